import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withFileLock } from '../../src/platform/file-lock';
import { defaultCacheDir, findTemporalCli, isExecutable } from '../../src/dev/cli-binary';
import { startDevServer, waitForTemporal } from '../../src/dev/dev-server';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/search-attributes';
import { freeLowPort, freePort, ROOT } from './children';
import { cpuSeconds } from './cpu';
import {
  backendPids,
  createDatabase,
  pgEndpoint,
  setSynchronousCommit,
  type BenchDatabase,
} from './postgres';

/** The Temporal server release benched on PostgreSQL. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';

/** A Temporal server the bench runs against. */
export interface TemporalBackend {
  /**
   * `dev` (temporal server start-dev, SQLite), `postgres` (the server on the local PostgreSQL) or
   * `cluster` (one process per service on a private PostgreSQL, bench/lib/cluster-stack.ts).
   */
  kind: 'dev' | 'postgres' | 'cluster';
  /** Human description for the report. */
  label: string;
  address: string;
  /**
   * CPU seconds the server has used so far: its process, plus (postgres) the PostgreSQL backends
   * serving its two databases. Differences over a phase give CPU per event, which other load on
   * the machine changes far less than it changes throughput.
   */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

/** The Temporal CLI binary, found as the app finds it (TEMPORAL_CLI_PATH, PATH, cache, download…). */
export async function temporalCli(): Promise<string> {
  return findTemporalCli({ explicitPath: process.env.TEMPORAL_CLI_PATH || undefined, env: process.env });
}

/** `temporal server start-dev` on a free port with its SQLite file in `dataDir`, headless. */
export async function startDevBackend(dataDir: string, port?: number): Promise<TemporalBackend> {
  const binary = await temporalCli();
  const address = `127.0.0.1:${port ?? (await freePort())}`;
  const server = await startDevServer({ binary, address, dataDir, headless: true, env: process.env });
  return {
    kind: 'dev',
    label: 'Temporal dev server (temporal CLI v1.5.1, SQLite WAL)',
    address,
    cpuSeconds: () => Promise.resolve(cpuSeconds(server.pid) ?? 0),
    stop: () => server.stop(),
  };
}

/** Where `go install` puts the server and the SQL tool. */
export function serverBinDir(): string {
  return path.join(
    defaultCacheDir(os.homedir(), process.env.XDG_CACHE_HOME),
    'temporal-server',
    TEMPORAL_SERVER_VERSION,
  );
}

function goBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'go');
    if (dir && fs.existsSync(p)) return p;
  }
  return fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
}

/** The two packages built: the server and temporal-sql-tool (installed as `server` and `sql`). */
const SERVER_PACKAGES = ['go.temporal.io/server/cmd/server', 'go.temporal.io/server/cmd/tools/sql'];

/** Raised when the PostgreSQL-backed server is asked for but its binaries are not in the cache. */
export class TemporalServerNotBuiltError extends Error {
  override readonly name = 'TemporalServerNotBuiltError';
}

/** Where the server and the SQL tool are (built or not). */
export function serverBinaries(): { server: string; sqlTool: string } {
  const dir = serverBinDir();
  return { server: path.join(dir, 'server'), sqlTool: path.join(dir, 'sql') };
}

/**
 * `nice -n 10 go install <server>@v <sql tool>@v` into serverBinDir(), modules from GOPROXY (the Go
 * module proxy by default); 5-20 minutes on two busy cores the first time. Rejects with the tail of
 * its output.
 */
export async function buildServerBinaries(timeoutMs: number, log: (l: string) => void): Promise<void> {
  const go = goBinary();
  if (!go) throw new Error('no Go toolchain on PATH (nor /usr/local/go/bin/go)');
  const dest = serverBinDir();
  fs.mkdirSync(dest, { recursive: true });
  const pkgs = SERVER_PACKAGES.map((p) => `${p}@${TEMPORAL_SERVER_VERSION}`);
  log(`nice -n 10 go install ${pkgs.join(' ')} (GOBIN=${dest})…`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('nice', ['-n', '10', go, 'install', ...pkgs], {
      env: { ...process.env, GOBIN: dest, GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let tail = '';
    child.stderr.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-3000)));
    const ticker = setInterval(
      () => log(`  still building… ${Math.round((Date.now() - started) / 1000)} s`),
      30_000,
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(ticker);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            signal
              ? `go install did not finish within ${Math.round(timeoutMs / 1000)} s`
              : `go install exited ${code}: ${tail.trim().split('\n').slice(-4).join(' | ')}`,
          ),
        );
    });
  });
}

/**
 * The server and SQL tool binaries. With `installTimeoutMs`, missing ones are built first; without
 * it, a missing one raises TemporalServerNotBuiltError saying how to build it.
 */
export async function ensureServerBinaries(
  log: (l: string) => void,
  installTimeoutMs?: number,
): Promise<{ server: string; sqlTool: string }> {
  const bins = serverBinaries();
  const missing = Object.values(bins).filter((b) => !isExecutable(b));
  if (missing.length === 0) return bins;
  if (installTimeoutMs === undefined) {
    throw new TemporalServerNotBuiltError(
      `temporal server binary not built (${missing.join(', ')} missing): run npx tsx bench/ensure-temporal-server.ts`,
    );
  }
  // One build at a time (the same lock helper as the temporal CLI and tctl builds).
  await withFileLock(
    path.join(serverBinDir(), '.build.lock'),
    async () => {
      if (Object.values(bins).some((b) => !isExecutable(b))) await buildServerBinaries(installTimeoutMs, log);
    },
    { onWait: (holder) => log(`waiting for another build of the Temporal server (${holder})…`) },
  );
  return bins;
}

/** The server module's SQL schema folder (in the Go module cache, fetched by go install). */
export function schemaDir(): string {
  const go = goBinary();
  const modCache = go
    ? spawnSync(go, ['env', 'GOMODCACHE'], { encoding: 'utf8' }).stdout.trim()
    : path.join(os.homedir(), 'go', 'pkg', 'mod');
  const dir = path.join(
    modCache,
    `go.temporal.io/server@${TEMPORAL_SERVER_VERSION}`,
    'schema',
    'postgresql',
    'v12',
  );
  if (!fs.existsSync(dir)) throw new Error(`schema folder ${dir} not found (go install fetches it)`);
  return dir;
}

export function runTool(bin: string, args: string[]): void {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(
      `${path.basename(bin)} ${args.slice(-3).join(' ')} failed: ${(r.stderr || r.stdout).trim().slice(-800)}`,
    );
  }
}

/** Applies the Temporal schema (main + visibility) to two fresh databases with temporal-sql-tool. */
async function setupSchema(sqlTool: string): Promise<{ main: BenchDatabase; visibility: BenchDatabase }> {
  const { host, port, user } = pgEndpoint();
  const main = await createDatabase('temporal_bench');
  const visibility = await createDatabase('temporal_bench_vis');
  const dir = schemaDir();
  for (const [db, sub] of [
    [main, 'temporal'],
    [visibility, 'visibility'],
  ] as const) {
    const base = ['--plugin', 'postgres12', '--ep', host, '-p', String(port), '-u', user, '--db', db.name];
    runTool(sqlTool, [...base, 'setup-schema', '-v', '0.0']);
    runTool(sqlTool, [...base, 'update-schema', '-d', path.join(dir, sub, 'versioned')]);
  }
  return { main, visibility };
}

/**
 * The Temporal server on the local PostgreSQL: fresh databases, schema by temporal-sql-tool,
 * config from bench/temporal-postgres/ on free ports, the `default` namespace and Intake's search
 * attributes registered with the temporal CLI.
 */
export async function startPostgresBackend(opts: {
  logDir: string;
  log: (l: string) => void;
  /** Build missing binaries with this timeout; when absent, a missing binary is an error. */
  installTimeoutMs?: number;
  /**
   * synchronous_commit of the server's two databases (default `on`, PostgreSQL's default: every
   * commit waits for its WAL fsync). `off` is the dev server's class of durability (SQLite WAL with
   * synchronous=normal does not fsync a commit either): an experiment, not a production setting.
   */
  synchronousCommit?: 'on' | 'off';
}): Promise<TemporalBackend> {
  const { logDir, log } = opts;
  const { server, sqlTool } = await ensureServerBinaries(log, opts.installTimeoutMs);
  const cli = await temporalCli();
  const dbs = await setupSchema(sqlTool);
  const syncCommit = opts.synchronousCommit ?? 'on';
  for (const db of [dbs.main, dbs.visibility]) await setSynchronousCommit(db.name, syncCommit);
  const { host, port, user } = pgEndpoint();
  const ports: Record<string, number> = {};
  for (const k of [
    'FRONTEND',
    'FRONTEND_MEMBERSHIP',
    'FRONTEND_HTTP',
    'MATCHING',
    'MATCHING_MEMBERSHIP',
    'HISTORY',
    'HISTORY_MEMBERSHIP',
    'WORKER',
    'WORKER_MEMBERSHIP',
  ])
    ports[k] = await freeLowPort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BENCH_TEMPORAL_DB: dbs.main.name,
    BENCH_TEMPORAL_VIS_DB: dbs.visibility.name,
    BENCH_TEMPORAL_PG_ADDR: `${host}:${port}`,
    BENCH_TEMPORAL_PG_USER: user,
    BENCH_TEMPORAL_DYNAMIC_CONFIG: path.join(ROOT, 'bench', 'temporal-postgres', 'dynamicconfig.yaml'),
  };
  for (const [k, v] of Object.entries(ports)) env[`BENCH_TEMPORAL_${k}_PORT`] = String(v);
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'temporal-postgres.log');
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(
    server,
    [
      '--root',
      path.join(ROOT, 'bench', 'temporal-postgres'),
      '--config',
      '.',
      '--env',
      'bench',
      '--allow-no-auth',
      'start',
    ],
    { env, stdio: ['ignore', fd, fd], detached: true },
  );
  fs.closeSync(fd);
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitInfo = `temporal server exited (${signal ?? code}); see ${logFile}`;
      resolve();
    }),
  );
  const address = `127.0.0.1:${ports.FRONTEND}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await dbs.main.drop();
    await dbs.visibility.drop();
  };
  try {
    await waitForTemporal(address, 90_000, () => exitInfo);
    const op = (args: string[]) => runTool(cli, ['operator', ...args, '--address', address]);
    op(['namespace', 'create', '--namespace', 'default', '--retention', '24h']);
    for (const name of SEARCH_ATTRIBUTE_NAMES) {
      op(['search-attribute', 'create', '--namespace', 'default', '--name', name, '--type', 'Keyword']);
    }
    await waitForNamespace(cli, address);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kind: 'postgres',
    cpuSeconds: async () => {
      const backends = await backendPids([dbs.main.name, dbs.visibility.name]);
      return [child.pid ?? -1, ...backends].reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
    },
    label:
      `Temporal server ${TEMPORAL_SERVER_VERSION} (go install) on PostgreSQL 15, 4 history shards` +
      (syncCommit === 'off' ? ', synchronous_commit=off' : ''),
    address,
    stop,
  };
}

/** The namespace cache refreshes every few seconds: wait until a list call in `default` works. */
async function waitForNamespace(cli: string, address: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = '';
  while (Date.now() < deadline) {
    const r = spawnSync(cli, ['workflow', 'count', '--namespace', 'default', '--address', address], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (r.status === 0) return;
    last = (r.stderr || '').trim();
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`namespace default not usable: ${last}`);
}
