import type { WorkflowClientInterceptor } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';
import type { Tracing } from '../platform/telemetry';

/**
 * The workflow-side interceptors of @temporalio/interceptors-opentelemetry: a span for the workflow
 * run and for each (local) activity it schedules, with the trace context carried in the headers.
 * They run inside the workflow sandbox, so they are part of the bundle: the worker adds them when it
 * bundles workflows/ itself with tracing on; scripts/build-workflow-bundle.ts prebuilds
 * dist/workflow-bundle-traced.js with them beside dist/workflow-bundle.js without. Only with
 * tracing on: they about double the CPU of a workflow task even when their spans go nowhere.
 * Workflows move freely between traced and untraced workers: the interceptors add headers and
 * spans, never commands (the replay test runs the recorded histories with them).
 */
export function workflowTracingInterceptorModules(): string[] {
  return [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];
}

/** The client interceptor that wraps starts, signals and queries in spans and sends the context along. */
export function clientTracingInterceptors(tracing: Tracing | undefined): WorkflowClientInterceptor[] {
  return tracing?.tracer ? [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] : [];
}

/**
 * Worker options that trace: a span per activity attempt (child of the workflow's span), and the
 * `exporter` sink through which the workflow interceptors hand their spans out of the sandbox.
 * The sink is registered even with tracing off (then a no-op), in case a bundle given with
 * INTAKE_WORKFLOW_BUNDLE carries the interceptors. `bundled`: the worker bundles workflows/ itself
 * (then the workflow interceptors are added here when tracing is on).
 */
export function workerTracingOptions(
  tracing: Tracing,
  bundled: boolean,
): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  const tracer = tracing.tracer;
  return {
    interceptors: {
      activity: tracer
        ? [
            (ctx) => ({
              inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
              outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
            }),
          ]
        : [],
      workflowModules: bundled && tracer ? workflowTracingInterceptorModules() : undefined,
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
