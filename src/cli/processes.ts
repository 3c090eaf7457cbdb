import { assertServeable, type Config } from '../config';
import { startApi } from '../api/server';
import { codecRouter } from '../api/codec-router';
import { createLogger } from '../platform/logger';
import { loopbackAddress, serveWorkerMetrics, WorkerMetrics } from '../platform/metrics';
import { openStore } from '../store/store';
import { startTokenSweeper, TOKEN_SWEEP_INTERVAL_MS } from '../store/token-sweeper';
import { findTemporalCli } from '../dev/cli-binary';
import { startTracing } from '../platform/telemetry';
import { createClient } from '../temporal/connection';
import { createEncryptionCodec } from '../temporal/encryption-codec';
import { startDevServer } from '../dev/dev-server';
import { installRuntime } from '../temporal/runtime';
import { createWorker } from '../worker/worker';
import { onShutdown } from './lifecycle';

/** Finds the `temporal` binary and starts the dev server where the config says (intake server/dev). */
export async function startConfiguredDevServer(
  config: Config,
  opts: { progress?: (line: string) => void; uiCodecEndpoint?: string; signal?: AbortSignal } = {},
) {
  const binary = await findTemporalCli({
    explicitPath: config.temporal.cliPath,
    env: config.childEnv,
    progress: opts.progress,
    signal: opts.signal,
  });
  return startDevServer({
    signal: opts.signal,
    log: opts.progress,
    binary,
    address: config.temporal.address,
    dataDir: config.dataDir,
    namespace: config.temporal.namespace,
    env: config.childEnv,
    uiCodecEndpoint: opts.uiCodecEndpoint,
  });
}

/** Routers the API mounts besides its own: the codec endpoint when encryption is on. */
export function apiExtraRouters(config: Config, opts: { uiOrigins: string[]; codecAuth: boolean }) {
  const codec = createEncryptionCodec(config.encryptionKeys);
  if (!codec) return [];
  const adminToken = opts.codecAuth ? config.adminToken : undefined;
  return [codecRouter({ codec, adminToken, corsOrigins: opts.uiOrigins })];
}

/** `intake api`: the stateless HTTP API. */
export async function runApi(config: Config): Promise<void> {
  assertServeable(config);
  const logger = createLogger(config.logLevel);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const tracing = startTracing(config, 'intake-api');
  const client = createClient(config, tracing);
  const api = await startApi({
    config,
    client,
    store,
    logger,
    tracer: tracing.tracer,
    extraRouters: apiExtraRouters(config, { uiOrigins: config.codecCorsOrigins, codecAuth: true }),
  });
  const stopSweeper = startTokenSweeper(store, TOKEN_SWEEP_INTERVAL_MS, logger, config.registry.all);
  logger.info(
    { url: api.url, taskQueue: config.temporal.taskQueue, tracing: tracing.tracer ? 'on' : 'off' },
    'intake api listening',
  );
  onShutdown(async (signal) => {
    // The listener closes at once (new connections are refused); requests in flight are answered
    // once their workflow start is persisted, so nothing acknowledged is lost.
    // close() stops listening synchronously; log only after, so "draining" means "refusing".
    const drained = api.close(config.shutdownGraceS * 1000);
    logger.info({ signal, graceS: config.shutdownGraceS }, 'draining in-flight requests');
    await drained;
    stopSweeper();
    await client.connection.close();
    await store.close();
    await tracing.shutdown();
  });
}

/**
 * `intake worker`: processes events from the task queue. A source listed in INTAKE_SOURCES still
 * needs its secret (one environment for both keeps them in step), but the worker starts without
 * any source secret and without the admin token: it verifies no signature and serves no HTTP.
 */
export async function runWorker(config: Config): Promise<void> {
  assertServeable(config, { requireAdminToken: false, requireSource: false });
  const logger = createLogger(config.logLevel);
  // Before any connection: the Runtime (SDK logs via pino, Core's Prometheus exporter) is per process.
  const metricsOn = config.workerMetricsPort > 0;
  const runtime = installRuntime({
    logger,
    logLevel: config.logLevel,
    sdkMetricsAddress: metricsOn ? await loopbackAddress() : undefined,
  });
  const metrics = new WorkerMetrics();
  const metricsServer = metricsOn
    ? await serveWorkerMetrics({
        port: config.workerMetricsPort,
        host: config.host,
        metrics,
        sdkMetricsUrl: runtime.sdkMetricsUrl,
      })
    : undefined;
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const tracing = startTracing(config, 'intake-worker');
  const { worker, connection } = await createWorker({ config, store, logger, metrics, tracing });
  logger.info(
    {
      taskQueue: config.temporal.taskQueue,
      metrics: metricsServer?.url ?? 'off',
      tracing: tracing.tracer ? 'on' : 'off',
    },
    'intake worker polling',
  );
  let closed: () => void = () => undefined;
  const allClosed = new Promise<void>((resolve) => (closed = resolve));
  onShutdown(async (signal) => {
    // Polling stops at once; running activities get shutdownGraceTime to finish, then are
    // cancelled and retried by another worker (handlers are idempotent). Exit only once closed.
    logger.info({ signal, graceS: config.shutdownGraceS }, 'worker draining');
    worker.shutdown();
    await allClosed;
  });
  await worker.run();
  await metricsServer?.close();
  await connection.close();
  await store.close();
  await tracing.shutdown();
  closed();
}

/** `intake server`: the Temporal dev server alone, with its data under INTAKE_DATA_DIR. */
export async function runServer(config: Config): Promise<void> {
  const say = (line: string) => process.stdout.write(line + '\n');
  // Handled from the start: a signal while the server starts stops it too (issue 19).
  const abort = new AbortController();
  const starting = startConfiguredDevServer(config, { progress: say, signal: abort.signal });
  onShutdown(
    async () => {
      abort.abort();
      await (await starting.catch(() => undefined))?.stop();
    },
    { whenOrphaned: true },
  );
  const server = await starting;
  say(`Temporal dev server on ${server.address}, Web UI ${server.uiUrl}\nData: ${server.dbFile}`);
  await server.exited;
}
