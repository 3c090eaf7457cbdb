import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './children';

const exec = promisify(execFile);

/**
 * A PostgreSQL cluster of the chaos run's own: initdb into a temporary folder, started with pg_ctl
 * on a free loopback port, restarted for the fault, removed at the end. Restarting the machine's
 * shared PostgreSQL instead would cut every other suite using it at the same time.
 */
export interface PrivateCluster {
  /** postgresql://postgres@127.0.0.1:<port>/postgres (trust auth). */
  url: string;
  port: number;
  dir: string;
  /** `pg_ctl restart -m fast`: every connection is cut, the cluster is back when it resolves. */
  restart(): Promise<void>;
  /** The postmaster's pid (first line of postmaster.pid); undefined while it is not running. */
  pid(): number | undefined;
  /** Stops the cluster (immediate) and deletes its folder. */
  remove(): Promise<void>;
}

/**
 * Freezes the cluster for `ms`: SIGSTOP to the postmaster (no new backend is forked) and then to
 * every backend, so connections hang instead of failing; then SIGCONT in the reverse order.
 */
export async function freezeCluster(cluster: Pick<PrivateCluster, 'pid'>, ms: number): Promise<void> {
  const postmaster = cluster.pid();
  if (!postmaster) throw new Error('PostgreSQL is not running');
  process.kill(postmaster, 'SIGSTOP');
  let backends: number[] = [];
  try {
    const { stdout } = await exec('pgrep', ['-P', String(postmaster)]).catch(() => ({ stdout: '' }));
    backends = stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const b of backends) process.kill(b, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    for (const b of backends) {
      try {
        process.kill(b, 'SIGCONT');
      } catch {
        // a backend that ended meanwhile
      }
    }
    process.kill(postmaster, 'SIGCONT');
  }
}

/** The folder holding initdb and pg_ctl: BENCH_PG_BIN, else the newest /usr/lib/postgresql/<v>/bin, else PATH. */
function binDir(): string | undefined {
  if (process.env.BENCH_PG_BIN) return process.env.BENCH_PG_BIN;
  try {
    const versions = fs
      .readdirSync('/usr/lib/postgresql')
      .filter((v) => fs.existsSync(path.join('/usr/lib/postgresql', v, 'bin', 'initdb')))
      .sort((a, b) => Number(a) - Number(b));
    const v = versions.at(-1);
    if (v) return path.join('/usr/lib/postgresql', v, 'bin');
  } catch {
    // not a Debian-style install
  }
  return undefined;
}

/**
 * Starts a private cluster. initdb refuses to run as root: as root, it runs as the `postgres` user.
 * `maxConnections` (default 100): a multi-service Temporal cluster opens pools per process.
 */
export async function startPrivateCluster(
  log: (l: string) => void,
  opts: { maxConnections?: number } = {},
): Promise<PrivateCluster> {
  const bin = binDir();
  const tool = (name: string) => (bin ? path.join(bin, name) : name);
  const asRoot = process.getuid?.() === 0;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const [uid, gid] = await Promise.all(
      ['-u', '-g'].map(async (f) => Number((await exec('id', [f, 'postgres'])).stdout.trim())),
    );
    owner = { uid: uid!, gid: gid! };
  }
  const run = async (cmd: string, args: string[], timeoutMs = 120_000) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    try {
      return await exec(file, argv, { timeout: timeoutMs });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${path.basename(cmd)} failed: ${(e.stderr || e.message).trim().slice(0, 500)}`, {
        cause: err,
      });
    }
  };

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-chaos-pg-'));
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  const data = path.join(dir, 'data');
  const port = await freePort();
  // Sockets in the run's folder, TCP on loopback only; fsync stays on (a restart must lose nothing).
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=${opts.maxConnections ?? 100}`;
  const pgCtl = (action: string, ...extra: string[]) =>
    run(tool('pg_ctl'), [
      '-D',
      data,
      '-l',
      path.join(dir, 'postgres.log'),
      '-w',
      '-t',
      '120',
      ...extra,
      action,
    ]);
  log(`private PostgreSQL: initdb in ${dir}, port ${port}${asRoot ? ' (as user postgres)' : ''}`);
  await run(tool('initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-instructions',
  ]);
  await pgCtl('start', '-o', serverOptions);
  let removed = false;
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    restart: async () => {
      await pgCtl('restart', '-m', 'fast', '-o', serverOptions);
    },
    pid: () => {
      try {
        const first = fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0];
        return Number(first) || undefined;
      } catch {
        return undefined;
      }
    },
    remove: async () => {
      if (removed) return;
      removed = true;
      await pgCtl('stop', '-m', 'immediate').catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
