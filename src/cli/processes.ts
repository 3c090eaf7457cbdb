import { assertServeable, type Config } from '../config';
import { startApi } from '../api/server';
import { codecRouter } from '../api/codec-router';
import { createLogger } from '../logger';
import { openStore } from '../store/store';
import { findTemporalCli } from '../temporal/cli-binary';
import { createClient } from '../temporal/connection';
import { createEncryptionCodec } from '../temporal/encryption-codec';
import { startDevServer } from '../temporal/dev-server';
import { createWorker } from '../worker';
import { onShutdown } from './lifecycle';

/** Routers the API mounts besides its own: the codec endpoint when encryption is on. */
export function apiExtraRouters(config: Config, uiOrigins: string[]) {
  const codec = createEncryptionCodec(config.encryptionKeys);
  return codec ? [codecRouter({ codec, adminToken: config.adminToken, corsOrigins: uiOrigins })] : [];
}

/** `intake api`: the stateless HTTP API. */
export async function runApi(config: Config): Promise<void> {
  assertServeable(config);
  const logger = createLogger(config.logLevel);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const client = createClient(config);
  const api = await startApi({ config, client, store, logger, extraRouters: apiExtraRouters(config, []) });
  logger.info({ url: api.url, taskQueue: config.temporal.taskQueue }, 'intake api listening');
  onShutdown(async (signal) => {
    logger.info({ signal }, 'draining in-flight requests');
    await api.close();
    await client.connection.close();
    await store.close();
  });
}

/** `intake worker`: processes events from the task queue. */
export async function runWorker(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const { worker, connection } = await createWorker({ config, store, logger });
  logger.info({ taskQueue: config.temporal.taskQueue }, 'intake worker polling');
  onShutdown(async (signal) => {
    logger.info({ signal }, 'worker draining');
    worker.shutdown();
  });
  await worker.run();
  await connection.close();
  await store.close();
}

/** `intake server`: the Temporal dev server alone, with its data under INTAKE_DATA_DIR. */
export async function runServer(config: Config): Promise<void> {
  const binary = await findTemporalCli({ explicitPath: config.temporal.cliPath, env: config.childEnv });
  const server = await startDevServer({
    binary,
    address: config.temporal.address,
    dataDir: config.dataDir,
    namespace: config.temporal.namespace,
    env: config.childEnv,
  });
  process.stdout.write(
    `Temporal dev server on ${server.address}, Web UI ${server.uiUrl}\nData: ${server.dbFile}\n`,
  );
  onShutdown(() => server.stop());
  await new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
}
