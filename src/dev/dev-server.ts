import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ConfigError, DevServerError } from '../errors';
import { MAX_PORT, splitHostPort } from '../config/env-values';
import { SEARCH_ATTRIBUTE_TYPES } from '../../workflows/search-attributes';

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** Path of the `temporal` binary (see findTemporalCli). */
  binary: string;
  /** host:port for the frontend gRPC service; the Web UI listens on port + 1000. */
  address: string;
  /** Folder for the SQLite file and the server log. */
  dataDir: string;
  /** Namespace to create. Default `default`. */
  namespace?: string;
  /** Remote codec endpoint the Web UI should call (set when payload encryption is on). */
  uiCodecEndpoint?: string;
  /** Disable the Web UI (tests). Default false. */
  headless?: boolean;
  /**
   * Dynamic config values (`--dynamic-config-value key=<JSON>`). The test run shortens the history
   * queues' ack intervals so a `DeleteWorkflowExecution` takes effect in under a second, not the
   * ~35 s the 30 s defaults give; `intake dev` sets none.
   */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** How long to wait for the server to answer. Default 120 s (a busy machine starts it slowly). */
  readyTimeoutMs?: number;
  /** Environment of the child process. */
  env: NodeJS.ProcessEnv;
  /** Where to say that a server left running on the same data folder is being stopped. */
  log?: (line: string) => void;
  /**
   * Abandons the start (a SIGTERM or Ctrl-C while the server is starting): the server is stopped
   * and the start rejects with a DevServerError.
   */
  signal?: AbortSignal;
}

/** A running `temporal server start-dev`. */
export interface DevServer {
  address: string;
  uiUrl?: string;
  /** The SQLite file that holds every workflow. */
  dbFile: string;
  /** The supervisor process (see {@link SUPERVISOR}); it exits when the server has exited. */
  child: ChildProcess;
  /** Pid of the `temporal server start-dev` process itself. */
  pid: number;
  /** Resolves once the server (and its supervisor) have exited. */
  exited: Promise<void>;
  /** Sends `signal` to the server process itself (the chaos harness kills it with SIGKILL). */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

function splitAddress(address: string): { host: string; port: number } {
  const split = splitHostPort(address);
  if (typeof split === 'string') throw new ConfigError('TEMPORAL_ADDRESS', split);
  return split;
}

/** Offset of the dev Web UI's port from the frontend's (TEMPORAL_ADDRESS). */
export const WEB_UI_PORT_OFFSET = 1000;

/**
 * The dev Web UI's port for a frontend on `address` (its port + 1000). Throws ConfigError naming
 * TEMPORAL_ADDRESS when that is past the last TCP port, before anything starts (Node would refuse
 * it with a bare ERR_SOCKET_BAD_PORT).
 */
export function webUiPort(address: string): number {
  const { port } = splitAddress(address);
  const ui = port + WEB_UI_PORT_OFFSET;
  if (ui > MAX_PORT) {
    throw new ConfigError(
      'TEMPORAL_ADDRESS',
      `port ${port} leaves no port for the dev Web UI, which listens on port + ${WEB_UI_PORT_OFFSET} ` +
        `(${ui} > ${MAX_PORT}); use a port up to ${MAX_PORT - WEB_UI_PORT_OFFSET}`,
    );
  }
  return ui;
}

/** The arguments Intake passes to `temporal server start-dev`. */
export function devServerArgs(opts: DevServerOptions): string[] {
  const { host, port } = splitAddress(opts.address);
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(port),
    '--namespace',
    opts.namespace ?? 'default',
    '--db-filename',
    path.join(opts.dataDir, 'temporal.sqlite'),
    // WAL: a kill -9 loses nothing that was committed, and readers do not block the writer.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    '--log-level',
    'warn',
  ];
  for (const [name, type] of SEARCH_ATTRIBUTE_TYPES) args.push('--search-attribute', `${name}=${type}`);
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(webUiPort(opts.address)));
  if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  return args;
}

/** Resolves once the frontend answers a health check, or rejects after `timeoutMs`. */
export async function waitForTemporal(
  address: string,
  timeoutMs: number,
  exited?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    const why = exited?.();
    if (why) throw new Error(why);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}));
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal at ${address} did not become ready in ${timeoutMs} ms: ${lastError}`);
}

/** The file, in the data folder, holding the pid of the server running on it. */
export const pidFileOf = (dataDir: string) => path.join(dataDir, 'temporal-server.pid');

/**
 * The supervisor between Intake and `temporal server start-dev`, run as `node -e`. It starts the
 * server, writes its pid file, reports the pid over the IPC channel, and stops the server
 * (SIGTERM, SIGKILL after 10 s) as soon as that channel disconnects, which happens whenever the
 * Intake process ends, however it ends: a kill -9 (tsx's own signal relay sends one when its child
 * is slow to answer), a second Ctrl-C, a crash; it also polls for that (a disconnect during its own
 * boot emits nothing) and starts no server when Intake is already gone. SIGKILL follows after 5 s,
 * so a stop completes within 10 s even on a busy machine. Node offers no PR_SET_PDEATHSIG; this is its
 * portable equivalent. The supervisor runs in its own process group (the terminal's Ctrl-C must
 * reach Intake only, so that Intake stops API and worker before the server), ignores SIGINT, and
 * forwards SIGTERM and SIGHUP. It exits with the server's exit code.
 */
export const SUPERVISOR = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [pidFile, bin, ...args] = process.argv.slice(1);
const parent = process.ppid;
// Intake may have died while this supervisor was booting: then start nothing.
if (!process.connected) process.exit(0);
const server = spawn(bin, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.kill('SIGTERM');
  setTimeout(() => server.kill('SIGKILL'), 5000).unref();
};
// A disconnect that happened before the listener below existed emits nothing: look, too.
setInterval(() => {
  if (!process.connected || process.ppid !== parent) stop();
}, 500).unref();
server.once('spawn', () => {
  fs.writeFileSync(pidFile, String(server.pid));
  if (process.send) process.send({ pid: server.pid });
});
server.once('error', (e) => {
  if (process.send) process.send({ error: e.message });
  process.exitCode = 127;
  process.disconnect && process.connected && process.disconnect();
});
server.once('exit', (code, signal) => {
  try {
    if (fs.readFileSync(pidFile, 'utf8') === String(server.pid)) fs.unlinkSync(pidFile);
  } catch {}
  process.exitCode = code === null ? 128 + (require('node:os').constants.signals[signal] || 9) : code;
  if (process.connected) process.disconnect();
});
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);
process.on('SIGINT', () => {});
`;

/** True if `pid` is alive and (where /proc tells) a `temporal server start-dev`. */
function isDevServerProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-dev');
  } catch {
    return !fs.existsSync('/proc'); // no /proc (macOS): trust the pid file
  }
}

/**
 * Stops a server that an earlier run left on this data folder (its Intake was killed before it
 * could stop it): SIGTERM, SIGKILL after 10 s. Says so through `log`.
 */
async function stopLeftoverServer(dataDir: string, log: (line: string) => void): Promise<void> {
  const file = pidFileOf(dataDir);
  let pid: number;
  try {
    pid = Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && isDevServerProcess(pid)) {
    log(`A Temporal dev server left running on ${dataDir} (pid ${pid}) was found; stopping it.`);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (isDevServerProcess(pid)) {
      if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`Stopped the leftover Temporal dev server (pid ${pid}).`);
  }
  fs.rmSync(file, { force: true });
}

/** Rejects with a DevServerError naming the port when something already listens on host:port. */
async function assertPortFree(host: string, port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new DevServerError(
          e.code === 'EADDRINUSE'
            ? `cannot start the Temporal dev server: port ${port} (${what}) on ${host} is already in use by another process`
            : `cannot start the Temporal dev server: port ${port} (${what}) on ${host}: ${e.message}`,
        ),
      ),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** The port a failed bind names in the server log ("listen tcp 127.0.0.1:7233: bind: address already in use"). */
function bindFailure(logFile: string): string | undefined {
  try {
    const tail = fs.readFileSync(logFile, 'utf8').slice(-20_000);
    const m = /listen tcp ([^\s:]*:?[^\s]*?):(\d+): bind: address already in use/.exec(tail);
    return m ? m[2] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the Temporal dev server (the real server, SQLite-backed) under its supervisor and waits
 * until it answers. A server left running on the same data folder is stopped first; a port that is
 * taken fails the start with a DevServerError naming it.
 */
// One supervised start: the child, its log, the readiness wait and the clean-up on each failure share
// the same handles; split up, every part would need all of them.
// eslint-disable-next-line max-lines-per-function -- one supervised start sharing its handles (see above)
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const aborted = () => (opts.signal?.aborted ? 'the start was interrupted (stop requested)' : undefined);
  if (aborted()) throw new DevServerError(aborted()!);
  const { host, port } = splitAddress(opts.address);
  const uiPort = opts.headless ? undefined : webUiPort(opts.address);
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const logFile = path.join(opts.dataDir, 'temporal-server.log');
  await stopLeftoverServer(opts.dataDir, opts.log ?? (() => undefined));
  await assertPortFree(host, port, 'TEMPORAL_ADDRESS');
  if (uiPort !== undefined) await assertPortFree(host, uiPort, 'Web UI, TEMPORAL_ADDRESS port + 1000');

  const log = fs.openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    ['-e', SUPERVISOR, pidFileOf(opts.dataDir), opts.binary, ...devServerArgs(opts)],
    { env: opts.env, stdio: ['ignore', log, log, 'ipc'], detached: true },
  );
  fs.closeSync(log);
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      const busy = bindFailure(logFile);
      exitInfo = busy
        ? `the Temporal dev server could not bind port ${busy} (address already in use); see ${logFile}`
        : `temporal server exited (${signal ?? code}); see ${logFile}`;
      resolve();
    }),
  );
  let pid = 0;
  const started = new Promise<void>((resolve) => {
    child.on('message', (m: { pid?: number; error?: string }) => {
      if (m.pid) pid = m.pid;
      if (m.error) exitInfo = `could not start ${opts.binary}: ${m.error}`;
      resolve();
    });
    void exited.then(() => resolve());
  });
  child.once('error', (e) => {
    exitInfo = `could not start the supervisor: ${e.message}`;
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const kill = (signal: NodeJS.Signals) => {
    if (pid && !gone()) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  };
  const stop = async (graceMs = 5000) => {
    if (gone()) return;
    child.kill('SIGTERM'); // the supervisor forwards it to the server
    const timer = setTimeout(() => {
      kill('SIGKILL');
      child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  };
  const onAbort = () => void stop(1000);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([started, exited]);
    await waitForTemporal(opts.address, opts.readyTimeoutMs ?? 120_000, () => aborted() ?? exitInfo);
    // Something else may have answered on the port (taken between the check and the bind).
    if (exitInfo) throw new Error(exitInfo);
  } catch (err) {
    await stop(1000);
    throw new DevServerError(aborted() ?? exitInfo ?? (err as Error).message);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return {
    address: opts.address,
    uiUrl: uiPort === undefined ? undefined : `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${uiPort}`,
    dbFile: path.join(opts.dataDir, 'temporal.sqlite'),
    child,
    pid,
    exited,
    kill,
    stop,
  };
}
