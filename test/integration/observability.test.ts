import { randomBytes } from 'node:crypto';
import { capturedLogs, startIntake, waitFor, type Intake } from '../support/harness';
import { assertNoPayloadInLogs, capturedLogRecords } from '../support/log-check';
import { startMetricsWorker, type MetricsWorker } from '../support/metrics-worker';
import { freePort } from '../support/ports';
import { mailgunRequest, partnerRequest, send } from '../support/requests';

/** Value of one Prometheus sample, e.g. `metric('x_total', { source: 'mailgun' })`; 0 if absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ([^ ]+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      total += Number(m[3]);
      found = true;
    }
  }
  return found ? total : 0;
}

const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
};

describe('observability: metrics, access logs and no payloads in logs', () => {
  let intake: Intake;
  let metricsWorker: MetricsWorker;
  const tag = randomBytes(4).toString('hex');
  // Distinctive payload values: none of them may ever appear in a log line.
  const recipient = `leak.check.${tag}@private.example`;
  const customerName = `Zelda Leakcheck ${tag}`;
  const customerEmail = `zelda.${tag}@private.example`;
  const policyNumber = `POL-LEAK-${tag}`;

  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      worker: false,
      // `complained` events fail every attempt, so one event parks (3 attempts in the harness).
      env: { INTAKE_FAILPOINTS: 'mailgun.handler=complained' },
    });
    // First thing touching the Temporal Runtime in this file: SDK logs via pino, Core's exporter on.
    metricsWorker = await startMetricsWorker(intake);
    expect(metricsWorker.runtimeInstalledHere).toBe(true);
  });
  afterAll(async () => {
    await metricsWorker?.stop();
    await intake?.stop();
  });

  it('exports every API and worker series with data after traffic, and logs no payload value', async () => {
    const delivered = mailgunRequest({ recipient });
    const complained = mailgunRequest({ recipient, event: 'complained' });
    const customer = partnerRequest({
      data: { name: customerName, email: customerEmail, policyNumber },
    });
    expect((await send(intake.url, delivered)).status).toBe(200);
    expect((await send(intake.url, delivered)).status).toBe(200);
    expect((await send(intake.url, mailgunRequest({ recipient, key: 'key-wrong' }))).status).toBe(401);
    expect((await send(intake.url, complained)).status).toBe(200);
    const tracked = await send(intake.url, {
      ...customer,
      headers: { ...customer.headers, 'x-request-id': `obs-${tag}` },
    });
    expect(tracked.status).toBe(202);
    expect(tracked.headers.get('x-request-id')).toBe(`obs-${tag}`);

    const statusOf = async (id: string) => (await intake.events.get(id)).status;
    await waitFor(async () => (await statusOf(`mailgun:${delivered.eventId}`)) === 'processed', 30_000);
    await waitFor(async () => (await statusOf(`mailgun:${complained.eventId}`)) === 'parked', 30_000);
    await waitFor(
      async () => (await statusOf(`partners:acme:${customer.webhookId}`)) === 'processed',
      30_000,
    );

    const api = await scrape(`${intake.url}/metrics`);
    const mg = { source: 'mailgun' };
    // Mailgun's success is 200, like the duplicate: two accepted plus one redelivery.
    expect(sample(api, 'intake_webhook_requests_total', { ...mg, status: '200' })).toBe(3);
    expect(sample(api, 'intake_webhook_requests_total', { ...mg, status: '401' })).toBe(1);
    expect(sample(api, 'intake_webhook_requests_total', { source: 'partners', status: '202' })).toBe(1);
    expect(sample(api, 'intake_ack_latency_seconds_count', mg)).toBe(3);
    expect(sample(api, 'intake_ack_latency_seconds_sum', mg)).toBeGreaterThan(0);
    expect(sample(api, 'intake_ack_latency_seconds_bucket', { ...mg, le: '+Inf' })).toBe(3);
    expect(sample(api, 'intake_workflow_starts_total', mg)).toBe(2);
    expect(sample(api, 'intake_workflow_starts_total', { source: 'partners' })).toBe(1);
    expect(sample(api, 'intake_duplicates_total', mg)).toBe(1);
    expect(sample(api, 'intake_refusals_total', { ...mg, reason: 'invalid_signature' })).toBe(1);
    expect(sample(api, 'intake_api_process_cpu_seconds_total')).toBeGreaterThan(0);

    const w = await scrape(metricsWorker.url);
    expect(sample(w, 'intake_handler_attempts_total', { ...mg, outcome: 'ok' })).toBe(1);
    expect(sample(w, 'intake_handler_attempts_total', { ...mg, outcome: 'retryable' })).toBe(3);
    expect(sample(w, 'intake_handler_attempts_total', { source: 'partners', outcome: 'ok' })).toBe(1);
    expect(sample(w, 'intake_events_processed_total', mg)).toBe(1);
    expect(sample(w, 'intake_events_processed_total', { source: 'partners' })).toBe(1);
    expect(sample(w, 'intake_events_parked_total', mg)).toBe(1);
    expect(sample(w, 'intake_events_parked_total', { source: 'partners' })).toBe(0);
    // The Temporal SDK's own series, from Core's exporter, merged into the same scrape.
    const queue = { task_queue: intake.config.temporal.taskQueue };
    expect(sample(w, 'temporal_workflow_completed_total', queue)).toBe(2);
    // The parked event's 3 attempts: the quick local one, then two of the regular activity.
    expect(sample(w, 'temporal_local_activity_execution_failed_total', queue)).toBe(1);
    expect(sample(w, 'temporal_activity_execution_failed_total', queue)).toBe(2);
    expect(sample(w, 'temporal_worker_start_total', queue)).toBeGreaterThan(0);

    // Access log: one line per request with the route pattern, never the path or query values.
    const records = capturedLogRecords();
    const access = records.filter((r) => r.msg === 'access');
    expect(access.find((r) => r.reqId === `obs-${tag}`)).toMatchObject({
      method: 'POST',
      route: '/webhooks/partners/:partner',
      status: 202,
      ms: expect.any(Number),
    });
    expect(access.filter((r) => r.route === '/webhooks/mailgun' && r.status === 200)).toHaveLength(3);
    for (const r of access) expect(Object.keys(r).sort()).not.toContain('url');
    // SDK and Core logs arrive as pino JSON lines too, not on the console.
    expect(records.some((r) => r.component === 'temporal-sdk')).toBe(true);

    assertNoPayloadInLogs([recipient, customerName, customerEmail, policyNumber]);
  });

  it('the log check finds a leaked value, also JSON-escaped', () => {
    const leaked = `{"msg":"oops","to":"Zoë ${tag} \\"quoted\\""}\n`;
    capturedLogs.push(leaked);
    try {
      expect(() => assertNoPayloadInLogs([`Zoë ${tag} "quoted"`])).toThrow('payload values in logs');
    } finally {
      capturedLogs.splice(capturedLogs.indexOf(leaked), 1);
    }
  });

  it('answers only /metrics on the worker metrics port', async () => {
    const res = await fetch(metricsWorker.url.replace('/metrics', '/other'));
    expect([res.status, await res.json()]).toEqual([404, { error: 'not_found' }]);
  });

  it('reports Temporal and the store as up on /readyz', async () => {
    const res = await fetch(`${intake.url}/readyz`);
    expect([res.status, await res.json()]).toEqual([200, { status: 'ready', temporal: 'up', store: 'up' }]);
  });
});

describe('/readyz reports Temporal and the store separately', () => {
  const started: Intake[] = [];
  afterAll(async () => {
    for (const i of started) await i.stop();
  });

  it('is 503 with store down (and Temporal up) once the store is closed', async () => {
    const intake = await startIntake({ store: 'postgres', worker: false });
    started.push(intake);
    expect((await fetch(`${intake.url}/readyz`)).status).toBe(200);
    await intake.store.close();
    const res = await fetch(`${intake.url}/readyz`);
    expect([res.status, await res.json()]).toEqual([
      503,
      { status: 'unavailable', temporal: 'up', store: 'down' },
    ]);
  });

  it('is 503 with Temporal down (and the store up) when Temporal is unreachable, and says it spools', async () => {
    const intake = await startIntake({
      store: 'postgres',
      worker: false,
      temporalAddress: `127.0.0.1:${await freePort()}`,
    });
    started.push(intake);
    const res = await fetch(`${intake.url}/readyz`);
    expect([res.status, await res.json()]).toEqual([
      503,
      {
        status: 'unavailable',
        temporal: 'down',
        store: 'up',
        spooling: true,
        spool: { depth: 0, oldestAgeS: 0 },
      },
    ]);
    // A webhook is acknowledged from the spool (the store is up), and the spool reports it.
    const hook = await send(intake.url, mailgunRequest());
    expect([hook.status, (hook.json as { status?: string }).status]).toEqual([200, 'accepted']);
    const after = await fetch(`${intake.url}/readyz`);
    expect(await after.json()).toMatchObject({ spooling: true, spool: { depth: 1 } });
  });
});
