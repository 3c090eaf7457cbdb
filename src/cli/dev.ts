import type { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';
import { writeDevEndpoints } from '../dev/dev-env';
import { webUiPort } from '../dev/dev-server';
import { applyDevSecrets, loadOrCreateDevSecrets, type DevSecretsApplied } from '../dev/dev-secrets';
import { startApi } from '../api/server';
import { createLogger, type Logger } from '../platform/logger';
import { installRuntime } from '../temporal/runtime';
import { openStore, type Store } from '../store/store';
import { startTokenSweeper, TOKEN_SWEEP_INTERVAL_MS } from '../store/token-sweeper';
import { startTracing } from '../platform/telemetry';
import { createClient } from '../temporal/connection';
import { createWorker } from '../worker/worker';
import { failpointNotice } from './failpoint-notice';
import { onShutdown } from './lifecycle';
import { apiExtraRouters, startConfiguredDevServer } from './processes';

/**
 * `intake dev` (npm start): the Temporal dev server, the store (embedded unless DATABASE_URL), the
 * API and a worker in one process tree. Ctrl-C stops them in reverse order.
 */
// A start-up sequence read top to bottom: each step registers its stop right after it starts, so the
// stop order is the start order reversed; split up, that pairing would be spread over several functions.
// eslint-disable-next-line max-lines-per-function -- one start-up sequence with its stops (see above)
export async function runDev(baseConfig: Config): Promise<void> {
  // Checked before anything starts: a port past 64535 leaves none for the Web UI (ConfigError).
  const uiPort = webUiPort(baseConfig.temporal.address);
  // Loopback unless HOST says otherwise: the development API has generated secrets and, with
  // encryption on, a token-less codec endpoint.
  const { config, generated } = applyDevSecrets(
    { ...baseConfig, host: baseConfig.devHost },
    loadOrCreateDevSecrets(baseConfig.dataDir, baseConfig.registry.all),
  );
  const logger = createLogger(config.logLevel);
  // Keep a first run's console readable: the SDK's lifecycle chatter (webpack output, worker state)
  // shows at LOG_LEVEL=debug; warnings and errors always do. `intake worker` logs it at info.
  const sdkLevel = config.logLevel === 'info' ? 'warn' : config.logLevel;
  installRuntime({ logger: logger.child({}, { level: sdkLevel }), logLevel: sdkLevel });
  const say = (line: string) => process.stdout.write(line + '\n');

  const codecOn = !!config.encryptionKeys?.length;
  const apiHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const apiBase = `http://${apiHost}:${config.port}`;
  // The stop handler is in place before anything starts: a SIGTERM or Ctrl-C at any point of the
  // start-up stops what has started so far, the Temporal server included (issue 19). Until then
  // the default action would end this process at once, and a server still booting could outlive it.
  const abort = new AbortController();
  const stops: (() => Promise<void>)[] = [];
  let starting: Promise<unknown> = Promise.resolve();
  const stopAll = async () => {
    while (stops.length) await stops.pop()!().catch(() => undefined);
  };
  onShutdown(
    async () => {
      say('Stopping…');
      abort.abort();
      await starting.catch(() => undefined);
      await stopAll();
    },
    { whenOrphaned: true },
  );
  say(`Starting the Temporal dev server on ${config.temporal.address}…`);
  const serverStart = startConfiguredDevServer(config, {
    progress: say,
    uiCodecEndpoint: codecOn ? `${apiBase}/codec` : undefined,
    signal: abort.signal,
  });
  starting = serverStart;
  const server = await serverStart;
  stops.push(() => server.stop());
  /** Runs one start-up step unless a stop was asked for meanwhile; the stop waits for it. */
  const step = <T>(run: () => Promise<T>): Promise<T> => {
    if (abort.signal.aborted) return Promise.reject(new Error('start-up interrupted (stop requested)'));
    const p = run();
    starting = p;
    return p;
  };
  try {
    const store = await step(() => openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
    stops.push(() => store.close());
    const stopSweeper = startTokenSweeper(store, TOKEN_SWEEP_INTERVAL_MS, logger, config.registry.all);
    stops.push(async () => stopSweeper());
    const devWorker = await step(() => startDevWorker(config, store, logger));
    stops.push(devWorker.stop);
    const apiTracing = startTracing(config, 'intake-api');
    stops.push(() => apiTracing.shutdown());
    // With INTAKE_EAGER_START the client shares the worker's connection (closed with the worker).
    const client = createClient(config, apiTracing, config.eagerStart ? devWorker.connection : undefined);
    if (!config.eagerStart) stops.push(() => client.connection.close());
    const uiOrigin = `http://127.0.0.1:${uiPort}`;
    const api = await step(() =>
      startApi({
        config,
        client,
        store,
        logger,
        tracer: apiTracing.tracer,
        // The dev Web UI has no login and cannot send a bearer token; in development the codec
        // endpoint answers loopback clients (the browser on this machine) without one (production
        // requires INTAKE_ADMIN_TOKEN).
        extraRouters: apiExtraRouters(config, {
          uiOrigins: [uiOrigin, `http://localhost:${uiPort}`, ...config.codecCorsOrigins],
          codecAuth: false,
        }),
      }),
    );
    stops.push(() => api.close(2000));
    // For `intake env` in a second terminal: where this run listens.
    writeDevEndpoints(config.dataDir, {
      INTAKE_API_URL: api.url,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: config.temporal.namespace,
      INTAKE_TASK_QUEUE: config.temporal.taskQueue,
      INTAKE_DATA_DIR: config.dataDir,
    });
    for (const line of banner(
      config,
      { api: api.url, ui: server.uiUrl, temporal: server.address },
      generated,
    ))
      say(line);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Starts the in-process worker (with its own tracing); returns how to stop both. */
async function startDevWorker(
  config: Config,
  store: Store,
  logger: Logger,
): Promise<{ connection: NativeConnection; stop: () => Promise<void> }> {
  const tracing = startTracing(config, 'intake-worker');
  const { worker, connection } = await createWorker({
    config,
    store,
    logger,
    shutdownGraceS: 5,
    tracing,
  }).catch(async (err: unknown) => {
    await tracing.shutdown();
    throw err;
  });
  const running = worker.run();
  return {
    connection,
    stop: async () => {
      worker.shutdown();
      await running;
      await connection.close();
      await tracing.shutdown();
    },
  };
}

/** The "Intake is running." lines: where everything listens, failpoints, generated secrets, next steps. */
function banner(
  config: Config,
  urls: { api: string; ui: string | undefined; temporal: string },
  generated: DevSecretsApplied['generated'],
): string[] {
  const lines = [
    '',
    `Intake is running.`,
    `  API        ${urls.api}   (POST ${config.registry.all.map((s) => `/webhooks/${s.route}`).join(', ')})`,
    `  Web UI     ${urls.ui}`,
    `  Temporal   ${urls.temporal}   namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}`,
    `  Store      ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}/pglite`}`,
    ...failpointNotice(config),
  ];
  if (generated.length) {
    lines.push(
      '',
      `Development secrets (generated, kept in ${config.dataDir}/dev-secrets.json; set them to use your own):`,
      ...generated.map((g) => `  ${g.variable}=${g.value}`),
    );
  }
  lines.push(
    '',
    `Second terminal: eval "$(npx intake env)"   (exports INTAKE_API_URL, INTAKE_ADMIN_TOKEN, TEMPORAL_ADDRESS…)`,
    ...config.registry.all.map((s, i) => `${i ? '       ' : 'Try it:'}  npx intake send ${s.name} --example`),
    'Stop:    Ctrl-C',
  );
  return lines;
}
