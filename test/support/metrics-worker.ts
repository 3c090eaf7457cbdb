import { loopbackAddress, serveWorkerMetrics, WorkerMetrics } from '../../src/platform/metrics';
import { installRuntime } from '../../src/temporal/runtime';
import { createWorker } from '../../src/worker/worker';
import type { Intake } from './harness';

/** A worker with its own metrics endpoint, as `intake worker` runs it (see {@link startMetricsWorker}). */
export interface MetricsWorker {
  /** The worker's `/metrics` URL: Intake's series and the SDK's (Core's exporter, proxied). */
  url: string;
  /** True when this call installed the Temporal Runtime (Core's metrics exporter is then on). */
  runtimeInstalledHere: boolean;
  stop(): Promise<void>;
}

/**
 * Starts a worker for `intake` (started with `worker: false`) with Core's Prometheus exporter and the
 * worker metrics endpoint on loopback. Must be the first thing in the test file that touches the
 * Temporal Runtime, or Core's exporter is not on.
 */
export async function startMetricsWorker(intake: Intake): Promise<MetricsWorker> {
  const runtime = installRuntime({
    logger: intake.logger,
    logLevel: 'info',
    sdkMetricsAddress: await loopbackAddress(),
  });
  const metrics = new WorkerMetrics();
  const server = await serveWorkerMetrics({
    port: 0,
    host: '127.0.0.1',
    metrics,
    sdkMetricsUrl: runtime.sdkMetricsUrl,
  });
  const { worker, connection } = await createWorker({
    config: intake.config,
    store: intake.store,
    logger: intake.logger,
    metrics,
    shutdownGraceS: 2,
  });
  const running = worker.run();
  return {
    url: server.url,
    runtimeInstalledHere: runtime.installedByIntake,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
      await server.close();
    },
  };
}
