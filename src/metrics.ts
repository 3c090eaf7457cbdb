import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The API's Prometheus series. One registry per app, so several apps can share a process. */
export class ApiMetrics {
  readonly registry = new Registry();
  /** Requests to /webhooks by source and HTTP status. */
  readonly requests = new Counter({
    name: 'intake_webhook_requests_total',
    help: 'Webhook requests by source and HTTP status',
    labelNames: ['source', 'status'] as const,
    registers: [this.registry],
  });
  /** Time from request arrival to the 202 (Temporal has persisted the start). */
  readonly ackLatency = new Histogram({
    name: 'intake_ack_latency_seconds',
    help: 'Seconds from request arrival to acknowledgement (202 or 200 duplicate)',
    labelNames: ['source'] as const,
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  /** Workflows started. */
  readonly starts = new Counter({
    name: 'intake_workflow_starts_total',
    help: 'Workflows started (events accepted)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  /** Redeliveries answered 200 duplicate. */
  readonly duplicates = new Counter({
    name: 'intake_duplicates_total',
    help: 'Redelivered events answered as duplicates',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  /** Refused requests by reason (the error code). */
  readonly refusals = new Counter({
    name: 'intake_refusals_total',
    help: 'Refused webhook requests by reason',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'intake_api_' });
  }
}

/** The worker's own series (the SDK's are exported by its Runtime telemetry). */
export class WorkerMetrics {
  readonly registry = new Registry();
  /** Handler attempts by source and outcome (ok, retryable, permanent). */
  readonly attempts = new Counter({
    name: 'intake_handler_attempts_total',
    help: 'Handler attempts by source and outcome',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });
  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'intake_worker_' });
  }
}
