import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Config } from './config';
import { parseFailpoints } from './failpoints';
import type { Logger } from './logger';
import { WorkerMetrics } from './metrics';
import { packageRoot } from './paths';
import type { Store } from './store/store';
import { dataConverter, temporalConnectConfig } from './temporal/connection';

/** Options of {@link createWorker}. */
export interface WorkerOptions {
  config: Config;
  store: Store;
  logger: Logger;
  metrics?: WorkerMetrics;
  /** Seconds in-flight activities get to finish on shutdown. Default 30. */
  shutdownGraceS?: number;
}

/** Prebuilt workflow bundle (npm run build:bundle) used in production; else bundled at start. */
function workflowSource(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  const bundle = path.join(packageRoot(), 'dist', 'workflow-bundle.js');
  if (fs.existsSync(bundle)) return { workflowBundle: { codePath: bundle } };
  return { workflowsPath: require.resolve('../workflows') };
}

/** A worker polling the task queue: the processEvent workflow and every source's activity. */
export async function createWorker(
  opts: WorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const { config, store, logger } = opts;
  const metrics = opts.metrics ?? new WorkerMetrics({ defaultMetrics: false });
  const { namespace, connectionOptions } = temporalConnectConfig(config);
  const connection = await NativeConnection.connect(connectionOptions);
  try {
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue: config.temporal.taskQueue,
      ...workflowSource(),
      activities: createActivities({
        store,
        failpoints: parseFailpoints(config.failpoints),
        observer: {
          onAttempt(input, outcome, attempt) {
            metrics.attempts.inc({ source: input.source, outcome });
            const log = outcome === 'ok' ? logger.debug.bind(logger) : logger.warn.bind(logger);
            log(
              { id: input.id, source: input.source, eventType: input.eventType, attempt, outcome },
              'handler attempt',
            );
          },
        },
      }),
      dataConverter: dataConverter(config),
      maxConcurrentActivityTaskExecutions: config.workerMaxActivities,
      shutdownGraceTime: `${opts.shutdownGraceS ?? 30}s`,
    });
    return { worker, connection };
  } catch (err) {
    await connection.close();
    throw err;
  }
}
