import { context, propagation, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { RedactingSpanProcessor } from './span-redaction';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  NoopSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Config } from '../config';

/** The two roles that trace; each exports under its own `service.name` unless OTEL_SERVICE_NAME says otherwise. */
export type TracedService = 'intake-api' | 'intake-worker';

/** Tracing of one role (API or worker) in this process. */
export interface Tracing {
  /** The tracer for Intake's own spans and the Temporal interceptors; undefined when tracing is off. */
  tracer?: Tracer;
  /** Where workflow spans (sent out of the sandbox through the `exporter` sink) go; a no-op when off. */
  spanProcessor: SpanProcessor;
  /** The resource (service.name, OTEL_RESOURCE_ATTRIBUTES) workflow spans are exported with. */
  resource: Resource;
  /** Exports what is buffered (tests, before reading the collector). */
  forceFlush(): Promise<void>;
  /** Exports what is buffered and stops; call once on shutdown. */
  shutdown(): Promise<void>;
}

/** Tracing that is off: no tracer, and a processor that drops the workflow spans the bundle emits. */
export function tracingOff(resource: Resource = Resource.empty()): Tracing {
  return {
    spanProcessor: new NoopSpanProcessor(),
    resource,
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
}

/**
 * Context propagation is process-wide (one context manager, one propagator), tracer providers are
 * per role: `intake dev` runs API and worker in one process and each keeps its service name. The
 * propagators are W3C trace context and baggage, what the Temporal interceptors put in headers.
 */
function installPropagation(): void {
  const manager = new AsyncLocalStorageContextManager();
  // false when another manager is already installed (a second role, or the host's own OTel setup).
  if (context.setGlobalContextManager(manager.enable())) {
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
  } else {
    manager.disable();
  }
}

/**
 * Starts tracing for one role when config.tracing says it is on (an OTLP endpoint is set and
 * OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none do not turn it off). Spans leave through OTLP/HTTP,
 * protobuf or JSON (OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL), in batches. Everything else about the
 * export is read by the OpenTelemetry SDK itself from the standard variables: headers, timeout,
 * compression (OTEL_EXPORTER_OTLP_*), sampling (OTEL_TRACES_SAMPLER[_ARG]), batching (OTEL_BSP_*),
 * and the resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
 */
export function startTracing(config: Config, service: TracedService): Tracing {
  const resource = Resource.default()
    .merge(new Resource({ [ATTR_SERVICE_NAME]: service }))
    .merge(envDetectorSync.detect());
  const { tracing } = config;
  if (!tracing.endpoint) return tracingOff(resource);
  installPropagation();
  const exporterOptions = { url: tracing.endpoint };
  const exporter =
    tracing.protocol === 'http/json'
      ? new OtlpJsonExporter(exporterOptions)
      : new OtlpProtoExporter(exporterOptions);
  // Ids leave the process hashed (./span-redaction.ts): workflow ids can name customers.
  const spanProcessor = new RedactingSpanProcessor(new BatchSpanProcessor(exporter));
  const provider = new BasicTracerProvider({
    resource,
    mergeResourceWithDefaults: false,
    spanProcessors: [spanProcessor],
  });
  return {
    tracer: provider.getTracer('intake'),
    spanProcessor,
    resource,
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
