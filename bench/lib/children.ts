import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort as pickPort, parsePortRange } from '../../src/platform/net';

/** Repository root (bench/lib/ → ../..). */
export const ROOT = path.resolve(__dirname, '..', '..');

/** A child process the bench started, with its log file and peak-RSS probe. */
export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  logFile: string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Peak resident set size so far (VmHWM from /proc), bytes; undefined once exited. */
  peakRss(): number | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** kill -9. */
  kill9(): Promise<void>;
}

/** Options of {@link spawnTs}. */
export interface SpawnOptions {
  name: string;
  /** TypeScript entry, relative to the repository root. */
  script: string;
  args?: string[];
  /** Extra node flags before the script (e.g. `--cpu-prof`, which NODE_OPTIONS may not carry). */
  nodeArgs?: string[];
  env: NodeJS.ProcessEnv;
  /** Folder for `<name>.log`. */
  logDir: string;
}

function vmHwm(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The live children of a process (empty when it has none, is gone, or the kernel lacks the file). */
export function childPids(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * VmHWM (peak RSS) of a live process plus that of its live child processes (a cluster of API
 * processes counts as one), bytes.
 */
export function readPeakRss(pid: number): number | undefined {
  const own = vmHwm(pid);
  if (own === undefined) return undefined;
  return childPids(pid).reduce((sum, c) => sum + (readPeakRss(c) ?? 0), own);
}

/**
 * Runs a TypeScript file as `node --import tsx <script>`: one process, so its pid is the one
 * to measure and to kill -9 (npx and the tsx CLI would each add a relay process in front).
 */
export function spawnTs(opts: SpawnOptions): Child {
  fs.mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${opts.name}.log`);
  const fd = fs.openSync(logFile, 'a');
  // BENCH_NODE_ARGS: extra node flags for every child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
  // to profile intake api/worker during a bench (node refuses --cpu-prof in NODE_OPTIONS);
  // opts.nodeArgs: for this child only.
  const nodeArgs = [
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
    ...(opts.nodeArgs ?? []),
  ];
  // BENCH_ENTRY=compiled: `intake` runs from the build (bin/intake.js → dist/, as in the Docker
  // image and `npx intake`) instead of the TypeScript sources under tsx. Run `npm run build` first.
  const entry =
    process.env.BENCH_ENTRY === 'compiled' && opts.script === 'src/cli/main.ts'
      ? ['bin/intake.js']
      : ['--import', 'tsx', opts.script];
  const proc = spawn(process.execPath, [...nodeArgs, ...entry, ...(opts.args ?? [])], {
    cwd: ROOT,
    env: opts.env,
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  let lastPeak: number | undefined;
  return {
    name: opts.name,
    proc,
    pid: proc.pid ?? -1,
    logFile,
    exited,
    peakRss() {
      const v = alive() && proc.pid ? readPeakRss(proc.pid) : undefined;
      if (v !== undefined) lastPeak = v;
      return v ?? lastPeak;
    },
    async stop(graceMs = 5000) {
      if (!alive()) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
    async kill9() {
      if (!alive()) return;
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** `BENCH_PORTS=7600-7699`: every port the bench opens comes from this range (shared machines). */
export function benchPortRange(env = process.env): { from: number; to: number } | undefined {
  return env.BENCH_PORTS ? parsePortRange(env.BENCH_PORTS, 'BENCH_PORTS') : undefined;
}

/** A free port: from BENCH_PORTS when set (in order), else one of src/net's default range. */
export async function freePort(): Promise<number> {
  const range = benchPortRange();
  return range ? pickPort(range, false) : pickPort();
}

/**
 * A free port below 32768: the Temporal server stores membership ports as SQL smallint. The
 * default range is (a unit test holds it there); BENCH_PORTS must be too.
 */
export async function freeLowPort(): Promise<number> {
  const range = benchPortRange();
  if (range && range.to > 32767) throw new Error(`BENCH_PORTS must end below 32768 for the Temporal server`);
  return range ? pickPort(range, false) : pickPort();
}

/** Polls `url` until it answers with `status` (default 200), or throws after `timeoutMs`. */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  child?: Child,
  status = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child && (child.proc.exitCode !== null || child.proc.signalCode !== null)) {
      throw new Error(`${child.name} exited early; see ${child.logFile}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === status) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (${last})`);
}

/** Promise-based sleep. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A bench scenario server (`script`, listening on PORT) as a child process; resolves once it answers. */
export async function startHttpChild(
  name: string,
  script: string,
  env: Record<string, string>,
  logDir: string,
  port?: number,
): Promise<{ child: Child; url: string }> {
  const p = port ?? (await freePort());
  const child = spawnTs({
    name,
    script,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(p), ...env },
    logDir,
  });
  const url = `http://127.0.0.1:${p}`;
  await waitForHttp(`${url}/healthz`, 60_000, child);
  return { child, url };
}

/** `--env KEY=VALUE` options as an environment (tuning experiments). */
export function envPairs(pairs: string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of pairs ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--env expects KEY=VALUE, got ${kv}`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}
