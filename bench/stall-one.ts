// API + worker + store in one process, as `intake dev` runs them (without starting its own dev server).
import { loadConfig } from '../src/config';
import { startApi } from '../src/api/server';
import { createLogger } from '../src/platform/logger';
import { installRuntime } from '../src/temporal/runtime';
import { openStore } from '../src/store/store';
import { createClient } from '../src/temporal/connection';
import { createWorker } from '../src/worker/worker';

async function main() {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel);
  installRuntime({ logger, logLevel: config.logLevel });
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const { worker } = await createWorker({ config, store, logger, shutdownGraceS: 2 });
  void worker.run();
  logger.info('intake worker polling');
  const client = createClient(config);
  const api = await startApi({ config, client, store, logger });
  logger.info({ url: api.url }, 'api listening');
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
