import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/ports';
import { waitFor } from '../support/harness';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const main = path.join(root, 'src', 'cli', 'main.ts');
const binary = () => process.env.INTAKE_TEST_TEMPORAL_CLI!;

/** Every process: pid, parent pid, command line. */
async function processes(): Promise<{ pid: number; ppid: number; args: string }[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,ppid=,args=']);
  return stdout
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
}

/** PIDs of `temporal server start-dev` processes on this data folder. */
async function temporalPids(dir: string): Promise<number[]> {
  return (await processes())
    .filter(
      (p) => /temporal$/.test(p.args.split(' ')[0]!) && p.args.includes('start-dev') && p.args.includes(dir),
    )
    .map((p) => p.pid);
}

/** `npm start` as the README runs it, in its own process group (as a terminal would), with its output. */
interface NpmStart {
  dir: string;
  proc: ChildProcess;
  output: () => string;
  exited: Promise<void>;
}

function npmStart(dir: string, env: NodeJS.ProcessEnv): NpmStart {
  let out = '';
  const proc = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return { dir, proc, output: () => out, exited };
}

/** The `intake dev` node process under an npm process (npm → sh? → node …main.ts dev). */
async function intakeDevPid(npmPid: number): Promise<number> {
  const all = await processes();
  const below = new Set([npmPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all)
      if (below.has(p.ppid) && !below.has(p.pid)) {
        below.add(p.pid);
        grew = true;
      }
  }
  const dev = all.find((p) => below.has(p.pid) && /main\.ts dev/.test(p.args) && !/^(sh|npm)/.test(p.args));
  if (!dev) throw new Error(`no intake dev process under npm ${npmPid}`);
  return dev.pid;
}

const started: NpmStart[] = [];
const dirs: string[] = [];
let bundle: string;

beforeAll(async () => {
  // A prebuilt workflow bundle (as production uses) keeps each start short: no webpack per start.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(root, 'workflows'), logger: quiet });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-lifecycle-bundle-'));
  dirs.push(dir);
  bundle = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundle, code);
}, 180_000);

afterAll(async () => {
  for (const s of started) {
    try {
      process.kill(-s.proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of dirs) {
    for (const pid of await temporalPids(d)) process.kill(pid, 'SIGKILL');
    fs.rmSync(d, { recursive: true, force: true });
  }
});

async function startDev(): Promise<NpmStart> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-lifecycle-'));
  dirs.push(dir);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_CLI_PATH: binary(),
    PORT: String(await freePort()),
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    INTAKE_DATA_DIR: dir,
    INTAKE_WORKFLOW_BUNDLE: bundle,
    LOG_LEVEL: 'warn',
  };
  const s = npmStart(dir, env);
  started.push(s);
  await waitFor(
    async () => s.output().includes('Try it:') || s.proc.exitCode !== null,
    180_000,
    `npm start to be running; output:\n${s.output()}`,
  );
  if (!s.output().includes('Try it:')) throw new Error(`npm start failed:\n${s.output()}`);
  expect(await temporalPids(dir)).toHaveLength(1);
  return s;
}

/** Waits until the whole npm group has exited, then until no server is left on the folder. */
async function expectNoServerLeft(s: NpmStart): Promise<void> {
  await s.exited;
  await waitFor(
    async () => (await temporalPids(s.dir)).length === 0,
    60_000,
    `no Temporal server left on ${s.dir}; output:\n${s.output()}`,
  );
  expect(await temporalPids(s.dir)).toEqual([]);
}

describe('npm start never leaves a Temporal server behind', () => {
  it('stops everything on SIGINT to the group, SIGINT twice, SIGTERM to npm, SIGKILL of intake dev', async () => {
    // The four run side by side: each start takes a while on a busy machine.
    await Promise.all([
      (async () => {
        const s = await startDev();
        process.kill(-s.proc.pid!, 'SIGINT'); // Ctrl-C in a terminal
        await expectNoServerLeft(s);
        expect(s.output()).toContain('Stopping…');
      })(),
      (async () => {
        const s = await startDev();
        process.kill(-s.proc.pid!, 'SIGINT');
        await waitFor(async () => s.output().includes('Stopping…'), 60_000, 'Stopping…');
        // A second Ctrl-C, impatient: exits at once; the server must still go.
        await new Promise((r) => setTimeout(r, 1600));
        try {
          process.kill(-s.proc.pid!, 'SIGINT');
        } catch {
          // the group had already exited
        }
        await expectNoServerLeft(s);
      })(),
      (async () => {
        const s = await startDev();
        s.proc.kill('SIGTERM'); // npm alone, as a process manager would
        await expectNoServerLeft(s);
      })(),
      (async () => {
        const s = await startDev();
        process.kill(await intakeDevPid(s.proc.pid!), 'SIGKILL');
        await expectNoServerLeft(s);
      })(),
    ]);
  }, 420_000);
});

describe('intake server: a leftover server is stopped; a taken port fails the start', () => {
  const env = (dir: string, address: string) => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_CLI_PATH: binary(),
    TEMPORAL_ADDRESS: address,
    INTAKE_DATA_DIR: dir,
    LOG_LEVEL: 'warn',
  });

  it('finds the server an earlier run left on the data folder (pid file) and stops it, saying so', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-stale-'));
    dirs.push(dir);
    const port = await freePort();
    // What a killed supervisor leaves: a server on the folder, its pid in the pid file.
    const stale = spawn(
      binary(),
      [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--db-filename',
        path.join(dir, 'temporal.sqlite'),
      ],
      { stdio: 'ignore', detached: true },
    );
    stale.unref();
    fs.writeFileSync(path.join(dir, 'temporal-server.pid'), String(stale.pid));
    await waitFor(
      async () =>
        new Promise<boolean>((resolve) => {
          const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
          c.on('error', () => resolve(false));
        }),
      60_000,
      'the stale server to listen',
    );

    let out = '';
    const server = spawn(tsx, [main, 'server'], {
      env: env(dir, `127.0.0.1:${port}`),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    try {
      await waitFor(async () => out.includes('Temporal dev server on'), 120_000, `start; output:\n${out}`);
      expect(out).toContain(
        `A Temporal dev server left running on ${dir} (pid ${stale.pid}) was found; stopping it.`,
      );
      const pids = await temporalPids(dir);
      expect(pids).not.toContain(stale.pid);
      expect(pids).toHaveLength(1);
      expect(Number(fs.readFileSync(path.join(dir, 'temporal-server.pid'), 'utf8'))).toBe(pids[0]);
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
    expect(await temporalPids(dir)).toEqual([]);
  }, 240_000);

  it('fails loudly, naming the port, when the Temporal port is taken', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-port-taken-'));
    dirs.push(dir);
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const r = await run(tsx, [main, 'server'], { env: env(dir, `127.0.0.1:${port}`) }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${port}`);
      expect(r.stderr).toContain('already in use');
    } finally {
      holder.close();
    }
    expect(await temporalPids(dir)).toEqual([]);
  }, 120_000);
});
