import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/search-attributes';

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
  /** How long to wait for the server to answer. Default 60 s. */
  readyTimeoutMs?: number;
  /** Environment of the child process. */
  env: NodeJS.ProcessEnv;
}

/** A running `temporal server start-dev`. */
export interface DevServer {
  address: string;
  uiUrl?: string;
  /** The SQLite file that holds every workflow. */
  dbFile: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

function splitAddress(address: string): { host: string; port: number } {
  const idx = address.lastIndexOf(':');
  const port = Number(address.slice(idx + 1));
  if (idx <= 0 || !Number.isInteger(port)) throw new Error(`TEMPORAL_ADDRESS "${address}" is not host:port`);
  return { host: address.slice(0, idx), port };
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
  for (const name of SEARCH_ATTRIBUTE_NAMES) args.push('--search-attribute', `${name}=Keyword`);
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(port + 1000));
  if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
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

/** Starts the Temporal dev server (the real server, SQLite-backed) and waits until it answers. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const log = fs.openSync(path.join(opts.dataDir, 'temporal-server.log'), 'a');
  const child = spawn(opts.binary, devServerArgs(opts), {
    env: opts.env,
    stdio: ['ignore', log, log],
    // Own process group: Ctrl-C reaches Intake, which then stops the server in order.
    detached: true,
  });
  fs.closeSync(log);
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitInfo = `temporal server exited (${signal ?? code}); see ${path.join(opts.dataDir, 'temporal-server.log')}`;
      resolve();
    }),
  );
  child.once('error', (e) => {
    exitInfo = `could not start ${opts.binary}: ${e.message}`;
  });
  const stop = async (graceMs = 5000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForTemporal(opts.address, opts.readyTimeoutMs ?? 60_000, () => exitInfo);
  } catch (err) {
    await stop(1000);
    throw err;
  }
  const { host, port } = splitAddress(opts.address);
  return {
    address: opts.address,
    uiUrl: opts.headless ? undefined : `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port + 1000}`,
    dbFile: path.join(opts.dataDir, 'temporal.sqlite'),
    child,
    stop,
  };
}
