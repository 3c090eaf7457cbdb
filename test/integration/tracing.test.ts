import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { hashedId } from '../../src/platform/span-redaction';
import { startIntake, waitFor, type Intake } from '../support/harness';
import { mailgunRequest, partnerRequest, send } from '../support/requests';

/** One span as OTLP/HTTP JSON carries it, with its resource's service.name. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

const attributes = (list: OtlpAttribute[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, Object.values(a.value)[0]]));

/** A minimal OTLP/HTTP JSON trace receiver: keeps every request body and the spans in it. */
async function startReceiver() {
  const bodies: string[] = [];
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.url !== '/v1/traces' || !req.headers['content-type']?.startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      bodies.push(text);
      const body = JSON.parse(text) as {
        resourceSpans: {
          resource: { attributes: OtlpAttribute[] };
          scopeSpans: {
            spans: (Omit<ReceivedSpan, 'attributes' | 'service'> & { attributes: OtlpAttribute[] })[];
          }[];
        }[];
      };
      for (const rs of body.resourceSpans) {
        const service = String(attributes(rs.resource.attributes)['service.name']);
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              ...s,
              service,
              parentSpanId: s.parentSpanId || undefined,
              attributes: attributes(s.attributes),
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const MAILGUN_CHAIN = [
  'intake-api POST /webhooks/mailgun',
  'intake-api StartWorkflow:processEvent',
  'intake-worker RunWorkflow:processEvent',
  'intake-worker StartActivity:handleEvent',
  'intake-worker RunActivity:handleEvent',
];

describe('tracing: one trace from the webhook request into the handler activity', () => {
  let intake: Intake;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const tag = randomBytes(4).toString('hex');
  // Distinctive payload values: none may appear anywhere in what is exported.
  const recipient = `trace.leak.${tag}@private.example`;
  const customerName = `Tracy Leakcheck ${tag}`;
  const customerEmail = `tracy.${tag}@private.example`;

  beforeAll(async () => {
    receiver = await startReceiver();
    intake = await startIntake({
      store: 'postgres',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        // Empty: this worker bundles workflows/ at start and adds the interceptors itself, as
        // `npm start` does; the prebuilt traced bundle has its own test below.
        INTAKE_WORKFLOW_BUNDLE: '',
      },
    });
  });
  afterAll(async () => {
    await intake?.stop();
    await receiver?.close();
  });

  /** The server span of an event, its handler activity span, and the chain of parents between them. */
  async function traceOf(eventId: string) {
    const server = await waitFor(
      async () => {
        await intake.tracing.api.forceFlush();
        return receiver.spans.find((s) => s.attributes['intake.event_id'] === hashedId(eventId));
      },
      20_000,
      'the server span',
    );
    const inTrace = () => receiver.spans.filter((s) => s.traceId === server.traceId);
    const activity = await waitFor(
      async () => {
        await intake.tracing.worker.forceFlush();
        return inTrace().find((s) => s.name.startsWith('RunActivity:'));
      },
      20_000,
      'the activity span',
    );
    const byId = new Map(inTrace().map((s) => [s.spanId, s]));
    // Walk up from the activity attempt to the request: every hop is a parent in the same trace.
    const chain: string[] = [];
    for (
      let s: ReceivedSpan | undefined = activity;
      s;
      s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined
    )
      chain.unshift(`${s.service} ${s.name}`);
    return { server, activity, chain };
  }

  it('links request → start → workflow → activity across API and worker, with the event id, and no payload', async () => {
    const mail = mailgunRequest({ recipient });
    const customer = partnerRequest({ data: { name: customerName, email: customerEmail } });
    expect((await send(intake.url, mail)).status).toBe(200); // Mailgun's success code
    expect((await send(intake.url, customer)).status).toBe(202);
    const eventId = `mailgun:${mail.eventId}`;
    await waitFor(async () => (await intake.events.get(eventId)).status === 'processed', 30_000);
    await waitFor(
      async () => (await intake.events.get(`partners:acme:${customer.webhookId}`)).status === 'processed',
      30_000,
    );

    const { server, activity, chain } = await traceOf(eventId);
    expect(server).toMatchObject({
      service: 'intake-api',
      name: 'POST /webhooks/mailgun',
      kind: 2, // SERVER
      parentSpanId: undefined,
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/webhooks/mailgun',
        'http.response.status_code': 200,
        'intake.source': 'mailgun',
      },
    });
    expect(chain).toEqual(MAILGUN_CHAIN);
    // Ids leave the process hashed; an operator finds the trace by hashing the event id.
    expect(activity.attributes.temporalWorkflowId).toBe(hashedId(eventId));

    // The partner event got its own trace.
    const partnerServer = receiver.spans.find(
      (s) => s.attributes['intake.event_id'] === hashedId(`partners:acme:${customer.webhookId}`),
    );
    expect(partnerServer?.attributes['http.route']).toBe('/webhooks/partners/:partner');
    expect(partnerServer?.traceId).not.toBe(server.traceId);

    // Nothing exported (span names, attributes, events, resources) carries a payload value.
    const exported = receiver.bodies.join('\n');
    for (const value of [recipient, customerName, customerEmail])
      expect(exported.includes(value) || exported.includes(JSON.stringify(value).slice(1, -1))).toBe(false);
    // Nor any id: event ids, the webhook id, the message id, the customer id (issue 19: the Temporal
    // client's spans carried workflow ids in clear).
    const messageId = (mail.json['event-data'] as { message: { headers: Record<string, string> } }).message
      .headers['message-id']!;
    const ids = [mail.eventId, customer.webhookId, messageId, customer.customerId];
    expect(ids.filter((id) => exported.includes(id))).toEqual([]);
  });

  it('carries the trace through the traced bundle scripts/build-workflow-bundle.ts prebuilds', async () => {
    // Production workers with tracing on load dist/workflow-bundle-traced.js: the workflow
    // interceptors must be in it.
    const plain = path.join(os.tmpdir(), `intake-trace-bundle-${tag}.js`);
    const bundle = plain.replace(/\.js$/, '-traced.js');
    try {
      execFileSync(
        process.execPath,
        [require.resolve('tsx/cli'), 'scripts/build-workflow-bundle.ts', plain],
        {
          cwd: path.resolve(__dirname, '../..'),
          stdio: 'pipe',
        },
      );
      await intake.stopWorker();
      await intake.startWorker({ INTAKE_WORKFLOW_BUNDLE: bundle });
      const mail = mailgunRequest();
      expect((await send(intake.url, mail)).status).toBe(200); // Mailgun's success code
      const eventId = `mailgun:${mail.eventId}`;
      await waitFor(async () => (await intake.events.get(eventId)).status === 'processed', 30_000);
      expect((await traceOf(eventId)).chain).toEqual(MAILGUN_CHAIN);
    } finally {
      for (const f of [plain, bundle]) fs.rmSync(f, { force: true });
    }
  });

  it('starts a new trace for a request that sends a traceparent, linking to it instead', async () => {
    const remoteTrace = randomBytes(16).toString('hex');
    const req = mailgunRequest();
    const res = await send(intake.url, {
      ...req,
      headers: { ...req.headers, traceparent: `00-${remoteTrace}-${randomBytes(8).toString('hex')}-01` },
    });
    expect(res.status).toBe(200);
    const span = await waitFor(
      async () => {
        await intake.tracing.api.forceFlush();
        return receiver.spans.find(
          (s) => s.attributes['intake.event_id'] === hashedId(`mailgun:${req.eventId}`),
        );
      },
      20_000,
      'the server span',
    );
    expect(span.traceId).not.toBe(remoteTrace);
    expect(span.parentSpanId).toBeUndefined();
    expect(receiver.bodies.some((b) => b.includes(remoteTrace))).toBe(true); // as the link
  });
});
