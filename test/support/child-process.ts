import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { testBundleEnv } from './bundle';

const ROOT = path.resolve(__dirname, '..', '..');

/** An `intake api` or `intake worker` running as a child process (from source, through tsx). */
export interface IntakeChild {
  name: string;
  proc: ChildProcess;
  /** Every JSON log line written to stdout so far. */
  logs: Record<string, unknown>[];
  /** Everything written to stderr (start-up errors). */
  stderr(): string;
  /** Resolves with the first log line (past or future) whose `msg` is `msg` and that `match` accepts. */
  waitForLog(
    msg: string,
    timeoutMs?: number,
    match?: (line: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `killAfterMs`. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | null>;
}

/** Starts `intake <command>` with exactly `env` (plus PATH and HOME). */
export function spawnIntake(
  command: 'api' | 'worker',
  env: Record<string, string>,
  name: string = command,
): IntakeChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), command], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...testBundleEnv(env), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    msg: string;
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let stderr = '';
  let partial = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue; // not a log line
      }
      logs.push(line);
      for (const w of [...waiters]) {
        if (line.msg === w.msg && w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: IntakeChild = {
    name,
    proc,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(msg, wantedMs = 60_000, match = () => true) {
      const timeoutMs = Math.max(wantedMs, 60_000); // never less on a busy machine
      const seen = logs.find((l) => l.msg === msg && match(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`${name}: no "${msg}" log within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`),
            ),
          timeoutMs,
        );
        const waiter = {
          msg,
          match,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(waiter);
        void exited.then((code) => {
          clearTimeout(timer);
          reject(
            new Error(`${name} exited (${code}) before logging "${msg}"; stderr: ${stderr.slice(-2000)}`),
          );
        });
      });
    },
    async stop(signal = 'SIGTERM', killAfterMs = 30_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return child;
}
