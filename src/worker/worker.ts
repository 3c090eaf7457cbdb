import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type InjectedSinks } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createArchiveActivities } from '../../activities/archive';
import { createRedriveActivities } from '../../activities/redrive';
import { createReplayActivities } from '../../activities/replay';
import { activityTaskQueueFor, type Config } from '../config';
import type { Logger } from '../platform/logger';
import { WorkerMetrics } from '../platform/metrics';
import { payloadOffloadFor } from '../ingest/payload-offload';
import type { Store } from '../store/store';
import { assertHoldsNewestArchiveKey } from '../store/event-archive';
import { tracingOff, type Tracing } from '../platform/telemetry';
import { dataConverter, temporalConnectConfig } from '../temporal/connection';
import { installRuntime } from '../temporal/runtime';
import { workerTracingOptions } from '../temporal/tracing';
import { WorkerGroup } from './worker-group';
import type { EventSinks } from '../../workflows/process-event';

/** Options of {@link createWorker}. */
export interface WorkerOptions {
  config: Config;
  store: Store;
  logger: Logger;
  metrics?: WorkerMetrics;
  /** Seconds in-flight activities get to finish on shutdown. Default config.shutdownGraceS (25). */
  shutdownGraceS?: number;
  /** Traces workflows and activities (src/platform/telemetry.ts). Default off; the caller shuts it down. */
  tracing?: Tracing;
}

/**
 * The workflow code: INTAKE_WORKFLOW_BUNDLE when set; else, for the compiled build (this file under
 * dist/), the bundle `npm run build` wrote to dist/ (workflow-bundle-traced.js, with the
 * OpenTelemetry workflow interceptors, when tracing is on; workflow-bundle.js otherwise); else
 * (running from source: tests, `npm start`) workflows/ bundled at start, so a stale bundle from an
 * old build never runs. Two bundles because the interceptors cost workflow-task CPU even when
 * their spans go nowhere.
 */
export function workflowSource(
  config: Pick<Config, 'workflowBundle'> & { tracing?: Pick<Config['tracing'], 'endpoint'> },
  moduleDir: string = __dirname,
): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  if (config.workflowBundle) return { workflowBundle: { codePath: config.workflowBundle } };
  const compiled = moduleDir.split(path.sep).includes('dist');
  const name = config.tracing?.endpoint ? 'workflow-bundle-traced.js' : 'workflow-bundle.js';
  // The compiled build is dist/src/worker/worker.js: its bundles sit two folders up, in dist/.
  const bundle = path.join(moduleDir, '..', '..', name);
  if (compiled && fs.existsSync(bundle)) return { workflowBundle: { codePath: bundle } };
  return { workflowsPath: require.resolve('../../workflows') };
}

/**
 * The workers of one process: the main Worker polls the task queue (the processEvent and
 * redriveParked workflows, every source's activity and the redrive's); each rate-limited source
 * (INTAKE_RATE_LIMITS) adds an activity-only Worker on `<task queue>-<source>` whose rate the
 * server enforces across all processes.
 */
// The composition of the worker: every option handed to Worker.create is read here in one place, next
// to the per-source rate-limited workers built from the same options.
// eslint-disable-next-line max-lines-per-function -- the one place the worker options are composed (see above)
export async function createWorker(
  opts: WorkerOptions,
): Promise<{ worker: WorkerGroup; connection: NativeConnection }> {
  const { config, store, logger } = opts;
  await assertHoldsNewestArchiveKey(store, config.encryptionKeys);
  const tracing = opts.tracing ?? tracingOff();
  const metrics = opts.metrics ?? new WorkerMetrics({ defaultMetrics: false });
  // SDK logs through pino; a no-op when the process (e.g. `intake worker`, with metrics) did it first.
  installRuntime({ logger, logLevel: config.logLevel });
  const { namespace, connectionOptions } = temporalConnectConfig(config);
  const connection = await NativeConnection.connect(connectionOptions);
  try {
    const activities = createActivities({
      store,
      sources: config.registry.all,
      services: {
        tracer: opts.tracing?.tracer,
        onDelivery: (source, outcome) => metrics.deliveries.inc({ source, outcome }),
      },
      payloads: payloadOffloadFor(config),
      failpoints: config.failpoints,
      observer: {
        onAttempt(input, outcome, attempt) {
          metrics.attempts.inc({ source: input.source, outcome });
          if (outcome === 'ok') metrics.processed.inc({ source: input.source });
          const log = outcome === 'ok' ? logger.debug.bind(logger) : logger.warn.bind(logger);
          log(
            { id: input.id, source: input.source, eventType: input.eventType, attempt, outcome },
            'handler attempt',
          );
        },
      },
    });
    // The redrive workflow's activities read events' states through a client on the same connection.
    const client = new Client({ connection, namespace, dataConverter: dataConverter(config) });
    const common = {
      connection,
      namespace,
      activities: {
        ...activities,
        ...createRedriveActivities(client),
        ...createArchiveActivities(store),
        ...createReplayActivities({ store, client, config }),
      },
      dataConverter: dataConverter(config),
      maxConcurrentActivityTaskExecutions: config.workerMaxActivities,
      // The quick (local) handler attempts take the same store connections as the regular ones.
      maxConcurrentLocalActivityExecutions: config.workerMaxActivities,
      // Under load every RPC to the server is slower; a fixed 10 pollers (the SDK default) then caps
      // processing far below ingest. Autoscaling pollers follow the server's backlog hints.
      workflowTaskPollerBehavior: { type: 'autoscaling' as const, maximum: config.workerMaxPollers },
      activityTaskPollerBehavior: { type: 'autoscaling' as const, maximum: config.workerMaxPollers },
      shutdownGraceTime: `${opts.shutdownGraceS ?? config.shutdownGraceS}s`,
    };
    const source = workflowSource(config);
    const traced = workerTracingOptions(tracing, 'workflowsPath' in source);
    const main = await Worker.create({
      ...common,
      ...traced,
      sinks: { ...traced.sinks, ...eventSinks(metrics) },
      taskQueue: config.temporal.taskQueue,
      ...source,
    });
    const rateLimited: Worker[] = [];
    for (const [source, perSecond] of config.rateLimits) {
      rateLimited.push(
        await Worker.create({
          ...common,
          ...workerTracingOptions(tracing, false),
          taskQueue: activityTaskQueueFor(config, source) ?? '',
          maxTaskQueueActivitiesPerSecond: perSecond,
        }),
      );
    }
    return { worker: new WorkerGroup(main, rateLimited), connection };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

/**
 * processEvent's sink: it parks an event (a permanent failure, or the last attempt of its budget,
 * whether the quick local round or the regular activity spent it), the worker counts it. Not
 * called again when a history replays.
 */
function eventSinks(metrics: WorkerMetrics): InjectedSinks<EventSinks> {
  return {
    events: {
      parked: { fn: (_info, source) => metrics.parked.inc({ source }), callDuringReplay: false },
    },
  };
}
