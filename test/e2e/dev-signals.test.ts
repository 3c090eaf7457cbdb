import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/ports';
import { waitFor } from '../support/harness';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');

/** Every process: pid, parent pid, command line. */
async function processes(): Promise<{ pid: number; ppid: number; args: string }[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,ppid=,args=']);
  return stdout
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
}

/** The processes of one run: npm's tree, and whatever names its data folder (supervisor, server). */
async function runProcesses(npmPid: number, dir: string): Promise<{ pid: number; args: string }[]> {
  const all = await processes();
  const mine = new Set([npmPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all)
      if (mine.has(p.ppid) && !mine.has(p.pid)) {
        mine.add(p.pid);
        grew = true;
      }
  }
  return all.filter((p) => (mine.has(p.pid) || p.args.includes(dir)) && !p.args.startsWith('ps '));
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** When, during start-up, the signal is sent. */
const POINTS: {
  name: string;
  signal: NodeJS.Signals;
  when: (o: { output: string; dir: string; port: number }) => Promise<boolean>;
}[] = [
  {
    name: 'as "Starting the Temporal dev server" is printed',
    signal: 'SIGTERM',
    when: async ({ output }) => output.includes('Starting the Temporal dev server'),
  },
  {
    name: 'once the server process exists, before it answers',
    signal: 'SIGTERM',
    when: async ({ dir }) => fs.existsSync(path.join(dir, 'temporal-server.pid')),
  },
  {
    name: 'once Temporal listens, while the store, worker and API start',
    signal: 'SIGTERM',
    when: async ({ port }) => listening(port),
  },
  {
    name: 'Ctrl-C (SIGINT) once the server process exists',
    signal: 'SIGINT',
    when: async ({ dir }) => fs.existsSync(path.join(dir, 'temporal-server.pid')),
  },
];

/**
 * Issue 19: a SIGTERM or SIGINT to `npm start`'s process group at any point between "Starting the
 * Temporal dev server" and "Intake is running" stops everything that run started, the Temporal
 * server included, within 10 s (the contract; under `stress-ng --cpu 2` too).
 */
describe('a signal during start-up stops everything npm start started', () => {
  const leftovers: number[] = [];
  afterAll(() => {
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });

  for (const point of POINTS) {
    it(`${point.signal} ${point.name}: nothing survives 10 s`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-dev-signal-'));
      const port = await freePort();
      const env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_CLI_PATH: process.env.INTAKE_TEST_TEMPORAL_CLI,
        PORT: String(await freePort()),
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        INTAKE_DATA_DIR: dir,
        LOG_LEVEL: 'warn',
      };
      let output = '';
      const npm = spawn('npm', ['start'], {
        cwd: root,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      npm.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      npm.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      try {
        await waitFor(
          async () => (await point.when({ output, dir, port })) || undefined,
          180_000,
          `the start-up point (${point.name}); output:\n${output}`,
        );
        const before = await runProcesses(npm.pid!, dir);
        process.kill(-npm.pid!, point.signal); // the whole group, as a terminal or a supervisor would
        const signalledAt = Date.now();
        let alive = before;
        while (Date.now() - signalledAt < 10_000) {
          alive = (await runProcesses(npm.pid!, dir)).filter(
            (p) => before.some((b) => b.pid === p.pid) || p.args.includes(dir),
          );
          if (alive.length === 0) break;
          await new Promise((r) => setTimeout(r, 250));
        }
        leftovers.push(...alive.map((p) => p.pid));
        expect({ point: point.name, alive, output: alive.length ? output : '' }).toEqual({
          point: point.name,
          alive: [],
          output: '',
        });
      } finally {
        try {
          process.kill(-npm.pid!, 'SIGKILL');
        } catch {
          // gone
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
