import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import type { Router } from 'express';
import { startApi, type RunningApi } from '../../src/api/server';
import { loadConfig, type Config } from '../../src/config';
import { EventService } from '../../src/operations/event-service';
import { createLogger, type Logger } from '../../src/platform/logger';
import { registerSource } from '../../src/sources/registry';
import type { Source, SourceDefinition } from '../../src/sources/types';
import { openStore, type Store } from '../../src/store/store';
import { startTracing, type Tracing } from '../../src/platform/telemetry';
import { createClient } from '../../src/temporal/connection';
import { createWorker } from '../../src/worker/worker';
import { createTestDatabase } from './postgres';
import { testBundleEnv } from './bundle';

export const TEST_MAILGUN_KEY = 'key-test-0123456789abcdef';
export const TEST_ADMIN_TOKEN = 'test-admin-token';
/** The read-only token of the read routes (INTAKE_READ_TOKEN) in the test environment. */
export const TEST_READ_TOKEN = 'test-read-token';
/** Headers that open the read routes (`GET /messages/…`, `GET /customers/…`) with the read token. */
export const READ_AUTH = { authorization: `Bearer ${TEST_READ_TOKEN}` };
export const TEST_PARTNER_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** Every log line written by harness processes, to check that no payload leaks. */
export const capturedLogs: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    capturedLogs.push(chunk.toString());
    cb();
  },
});

/** Options of {@link startIntake}. */
export interface HarnessOptions {
  /** Which store: real PostgreSQL (a fresh database) or embedded PGlite (a fresh folder). */
  store: 'postgres' | 'pglite';
  /** Extra environment (overrides the test defaults). */
  env?: Record<string, string>;
  /** Start a worker too. Default true. */
  worker?: boolean;
  /** Temporal address; default the run's shared dev server. */
  temporalAddress?: string;
  /** Share another harness's store and task queue (a second API replica). */
  shareWith?: Intake;
  /** Extra routers for the API, built from the harness's config (e.g. `apiExtraRouters`). */
  extraRouters?: (config: Config) => Router[];
  /**
   * Sources to register (src/sources/registry.ts) before config, API and worker are built, and to
   * remove on stop: a source and its activity's processing, exactly as a registry line joins them.
   */
  sources?: { definition: SourceDefinition<never, never>; process: Source<never, never>['process'] }[];
}

/** The worker(s) of one harness process (see src/worker/worker-group.ts). */
type Worker = Awaited<ReturnType<typeof createWorker>>['worker'];

/** A running Intake (API + optional worker) on the real Temporal server and a real store. */
export interface Intake {
  config: Config;
  url: string;
  store: Store;
  client: Client;
  events: EventService;
  logger: Logger;
  api: RunningApi;
  /** The API's and the worker's tracing: on when the env sets an OTLP endpoint (OTEL_*), else off. */
  tracing: { api: Tracing; worker: Tracing };
  worker?: { worker: Worker; running: Promise<void> };
  /** Starts a(nother) worker with optional env overrides (e.g. without a failpoint). */
  startWorker(env?: Record<string, string>): Promise<{ worker: Worker; running: Promise<void> }>;
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The test defaults; short retry intervals so parking happens in seconds. Workers load the run's
 * prebuilt workflow bundle (testBundleEnv).
 */
export function testEnv(over: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...testBundleEnv(over),
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: '0',
    HOST: '127.0.0.1',
    TEMPORAL_ADDRESS: process.env.INTAKE_TEST_TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    INTAKE_TASK_QUEUE: `test-${randomBytes(6).toString('hex')}`,
    MAILGUN_SIGNING_KEY: TEST_MAILGUN_KEY,
    INTAKE_PARTNER_SECRETS: `acme=${TEST_PARTNER_SECRET}`,
    INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    INTAKE_READ_TOKEN: TEST_READ_TOKEN,
    INTAKE_RETRY_MAX_ATTEMPTS: '3',
    INTAKE_RETRY_INITIAL_INTERVAL_MS: '100',
    INTAKE_RETRY_MAX_INTERVAL_MS: '200',
    INTAKE_START_TIMEOUT_MS: '3000',
    // The store bound on the webhook path is tested on its own (store-timeout.test.ts); elsewhere a
    // busy machine must not turn a slow commit into a 503.
    INTAKE_STORE_TIMEOUT_MS: '30000',
    LOG_LEVEL: 'info',
    ...over,
  };
}

/** Starts Intake against the run's Temporal dev server and a fresh store. */
export async function startIntake(opts: HarnessOptions): Promise<Intake> {
  const cleanups: (() => Promise<void>)[] = [];
  for (const { definition, process } of opts.sources ?? []) {
    const unregister = registerSource(definition, process);
    cleanups.push(async () => unregister());
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-test-'));
  cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  let store: Store;
  let env: NodeJS.ProcessEnv;
  if (opts.shareWith) {
    store = opts.shareWith.store;
    env = testEnv({
      INTAKE_TASK_QUEUE: opts.shareWith.config.temporal.taskQueue,
      DATABASE_URL: opts.shareWith.config.databaseUrl ?? '',
      INTAKE_DATA_DIR: dataDir,
      ...opts.env,
    });
  } else {
    let databaseUrl = '';
    if (opts.store === 'postgres') {
      const db = await createTestDatabase();
      databaseUrl = db.url;
      cleanups.push(db.drop);
    }
    env = testEnv({
      DATABASE_URL: databaseUrl,
      INTAKE_DATA_DIR: dataDir,
      ...(opts.temporalAddress ? { TEMPORAL_ADDRESS: opts.temporalAddress } : {}),
      ...opts.env,
    });
    store = await openStore({ databaseUrl: databaseUrl || undefined, dataDir });
    cleanups.push(() => store.close());
  }
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel, logSink);
  const tracing = { api: startTracing(config, 'intake-api'), worker: startTracing(config, 'intake-worker') };
  cleanups.push(() => tracing.api.shutdown());
  cleanups.push(() => tracing.worker.shutdown());
  const client = createClient(config, tracing.api);
  cleanups.push(() => client.connection.close());
  const api = await startApi({
    config,
    client,
    store,
    logger,
    tracer: tracing.api.tracer,
    extraRouters: opts.extraRouters?.(config),
  });
  cleanups.push(() => api.close(1000));

  const intake: Intake = {
    // The API's real address (PORT is 0): what the CLI calls (cliEnv passes it as INTAKE_API_URL).
    config: { ...config, apiUrl: api.url },
    url: api.url,
    store,
    client,
    events: new EventService(client),
    logger,
    api,
    tracing,
    async startWorker(over = {}) {
      const wconfig = over && Object.keys(over).length ? loadConfig({ ...env, ...over }) : config;
      const { worker, connection } = await createWorker({
        config: wconfig,
        store,
        logger,
        shutdownGraceS: 2,
        tracing: tracing.worker,
      });
      const running = worker.run().finally(() => connection.close());
      intake.worker = { worker, running };
      return intake.worker;
    },
    async stopWorker() {
      const w = intake.worker;
      if (!w) return;
      intake.worker = undefined;
      w.worker.shutdown();
      await w.running;
    },
    async stop() {
      await intake.stopWorker();
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    },
  };
  if (opts.worker !== false) await intake.startWorker();
  return intake;
}

/**
 * How long any wait in the tests lasts at least before it fails. A deadline is never a timing
 * assertion, only when to give up; on a 2-core machine shared with other work, processing an event
 * or starting a process can take tens of seconds, and deadlines of 10-30 s made tests flaky.
 */
export const MIN_WAIT_MS = 60_000;

/** Polls `fn` until it returns a truthy value, or fails after `timeoutMs` (at least MIN_WAIT_MS). */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = MIN_WAIT_MS,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + Math.max(timeoutMs, MIN_WAIT_MS);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/**
 * True for a failure of the connection itself, before any answer: the request may be sent again,
 * as a provider does. (undici reports a keep-alive connection the server closed as "other side
 * closed", UND_ERR_SOCKET.)
 */
export function isConnectionReset(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } })?.cause;
  return (
    err instanceof TypeError &&
    ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED'].includes(cause?.code ?? '')
  );
}

/**
 * POSTs a prepared webhook request to the API as a provider delivers it: a connection reset before
 * any answer is retried (up to 3 attempts). Webhook deliveries are idempotent by event id, so a
 * retried delivery whose first attempt did reach Temporal answers `200 duplicate`; `attempts` says
 * how many were needed.
 */
export async function post(
  base: string,
  req: { path: string; headers: Record<string, string>; body: string | Buffer },
) {
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(base + req.path, { method: 'POST', headers: req.headers, body: req.body });
    } catch (err) {
      if (attempt < 3 && isConnectionReset(err)) continue;
      throw err;
    }
    const text = await res.text();
    return {
      status: res.status,
      json: tryParseJson(text) as Record<string, unknown>,
      headers: res.headers,
      text,
      attempts: attempt,
    };
  }
}

/** The parsed JSON of a response body, or undefined when it is not JSON. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** GET with the admin token. */
export async function adminGet(base: string, p: string) {
  const res = await fetch(base + p, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
