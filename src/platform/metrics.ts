import http from 'node:http';
import net from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { freePort } from './net';

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
  /** Time from request arrival to the acknowledgement (Temporal has persisted the start). */
  readonly ackLatency = new Histogram({
    name: 'intake_ack_latency_seconds',
    help: 'Seconds from request arrival to acknowledgement (the source success code or 200 duplicate)',
    labelNames: ['source'] as const,
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  /** Workflows started, by ingest directly or by the spool relay. */
  readonly starts = new Counter({
    name: 'intake_workflow_starts_total',
    help: 'Workflows started (events accepted)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  /** Of those, starts whose first workflow task went to this process's worker (`intake dev`, INTAKE_EAGER_START). */
  readonly eagerStarts = new Counter({
    name: 'intake_eager_starts_total',
    help: 'Workflows started eagerly on the worker in this process (intake dev)',
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
  /** Events written to the start spool instead of started, by source and reason. */
  readonly spooled = new Counter({
    name: 'intake_spooled_total',
    help: 'Events acknowledged from the start spool (Temporal down or slow, start bound full, backlog)',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });
  /** Spooled events relayed into Temporal, by source and outcome (started, duplicate). */
  readonly relayed = new Counter({
    name: 'intake_spool_relayed_total',
    help: 'Spooled events relayed into Temporal, by outcome (duplicate: the start had persisted)',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });
  /** Signed requests kept in quarantine because the body failed the schema. */
  readonly quarantined = new Counter({
    name: 'intake_quarantined_total',
    help: 'Signed requests kept in quarantine (status rejected) because the body failed the schema',
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

  /**
   * `intake_spool_depth` and `intake_spool_oldest_age_seconds`, read from the store at scrape time
   * (the spool is shared, so every replica reports the same values). When the store does not
   * answer, the last values are kept.
   */
  watchSpool(stats: () => Promise<{ depth: number; oldestAgeS: number }>): void {
    let last = { depth: 0, oldestAgeS: 0 };
    const read = async () => {
      last = await stats().catch(() => last);
      return last;
    };
    new Gauge({
      name: 'intake_spool_depth',
      help: 'Events in the start spool, waiting to be relayed into Temporal',
      registers: [this.registry],
      async collect() {
        this.set((await read()).depth);
      },
    });
    new Gauge({
      name: 'intake_spool_oldest_age_seconds',
      help: 'Age of the oldest event in the start spool (0 when empty)',
      registers: [this.registry],
      async collect() {
        this.set((await read()).oldestAgeS);
      },
    });
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
  /**
   * Delivery attempts of file sources to their service, by source and outcome: `delivered` (2xx),
   * `retry` (timeout, connection error, 408, 429, 5xx) or `permanent` (another answer: parks).
   */
  readonly deliveries = new Counter({
    name: 'intake_deliveries_total',
    help: 'Delivery attempts of file sources to their destination, by source and outcome',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });
  /** Events whose handler succeeded (the workflow completes as `processed`), by source. */
  readonly processed = new Counter({
    name: 'intake_events_processed_total',
    help: 'Events processed by a successful handler attempt, by source',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  /**
   * Events that parked, by source: the handler failed permanently, or spent its retry budget (in
   * the quick local round or the regular activity, failed or timed out). Counted by processEvent
   * through a sink when it parks, once per park (not again on replay; a resumed event that parks
   * again counts again). The IntakeStatus search attribute is the authoritative count of parked
   * events.
   */
  readonly parked = new Counter({
    name: 'intake_events_parked_total',
    help: 'Events parked after a permanent failure or their last retry attempt, by source',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'intake_worker_' });
  }
}

/** A host:port on 127.0.0.1 that is free now, for Core's Prometheus exporter (see freePort). */
export async function loopbackAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

/** Options of {@link serveWorkerMetrics}. */
export interface WorkerMetricsServerOptions {
  /** INTAKE_WORKER_METRICS_PORT (0 picks a free one here; the CLI treats 0 as off). */
  port: number;
  /** Interface to bind (HOST). */
  host: string;
  /** The worker's own series, served first. */
  metrics: WorkerMetrics;
  /** Core's exporter (`temporal_…` series), appended to every scrape when set. */
  sdkMetricsUrl?: string;
}

/** A listening worker metrics endpoint. */
export interface WorkerMetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The worker's one scrape target: `GET /metrics` answers Intake's series (prom-client) followed by
 * the Temporal SDK's (fetched from Core's loopback exporter at scrape time). The two sets never
 * share a metric name (`intake_` vs `temporal_`), so the concatenation is valid exposition text.
 * If Core's exporter does not answer, Intake's series are still served.
 */
export async function serveWorkerMetrics(opts: WorkerMetricsServerOptions): Promise<WorkerMetricsServer> {
  const scrape = async (): Promise<string> => {
    const own = await opts.metrics.registry.metrics();
    if (!opts.sdkMetricsUrl) return own;
    try {
      const res = await fetch(opts.sdkMetricsUrl, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) throw new Error(`status ${res.status}`);
      return `${own}\n${await res.text()}`;
    } catch {
      return `${own}\n# Temporal SDK metrics unavailable\n`;
    }
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
      return;
    }
    scrape().then(
      (text) => res.writeHead(200, { 'content-type': opts.metrics.registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal"}'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  const host = opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
