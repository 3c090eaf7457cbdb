import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { apiExtraRouters } from '../../src/cli/processes';
import { generateEncryptionKey } from '../../src/temporal/encryption-codec';
import { mailgunExample } from '../../src/sources/mailgun';
import type { SignedRequest } from '../../src/sources/types';
import {
  adminGet,
  post,
  startIntake,
  TEST_ADMIN_TOKEN,
  TEST_MAILGUN_KEY,
  waitFor,
  type Intake,
} from '../support/harness';

type IPayload = temporal.api.common.v1.IPayload;

/** A signed Mailgun event with a distinctive recipient and subject (payload-only values). */
function secretEvent(opts: { padBytes?: number } = {}) {
  const tag = randomBytes(6).toString('hex');
  const recipient = `enc-${tag}@customer.example`;
  const subject = `Subject-${tag}-confidential`;
  const req = mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered', recipient });
  const body = JSON.parse(req.body);
  body['event-data'].message.headers.subject = subject;
  if (opts.padBytes)
    body['event-data']['user-variables'] = {
      note: subject.repeat(Math.ceil(opts.padBytes / subject.length)),
    };
  const eventId = body['event-data'].id as string;
  const signed: SignedRequest = { ...req, body: JSON.stringify(body) };
  return { req: signed, id: `mailgun:${eventId}`, eventId, recipient, subject };
}

/** The history exactly as Temporal stores it, fetched by a client without the codec. */
async function rawHistory(intake: Intake, workflowId: string) {
  const raw = new Client({
    connection: intake.client.connection,
    namespace: intake.config.temporal.namespace,
  });
  const history = await raw.workflow.getHandle(workflowId).fetchHistory();
  return { history, bytes: Buffer.from(temporal.api.history.v1.History.encode(history).finish()) };
}

/** The workflow input payload of a history (first event). */
function startInput(history: temporal.api.history.v1.IHistory): IPayload {
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error('history has no start input');
  return payload;
}

const meta = (p: IPayload, key: string) => Buffer.from(p.metadata?.[key] ?? new Uint8Array()).toString();
const b64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('base64');

/** POST /codec/decode with the admin token. */
async function decodeViaApi(intake: Intake, payload: IPayload) {
  const res = await fetch(`${intake.url}/codec/decode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body: JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
          data: b64(payload.data),
        },
      ],
    }),
  });
  const body = (await res.json()) as { payloads?: { metadata: Record<string, string>; data: string }[] };
  return { status: res.status, payload: body.payloads?.[0] };
}

async function waitProcessed(intake: Intake, id: string) {
  return waitFor(
    async () => {
      const r = await adminGet(intake.url, `/events/${encodeURIComponent(id)}`);
      return r.json.status === 'processed' ? r.json : undefined;
    },
    30_000,
    `${id} processed`,
  );
}

describe('payload encryption with INTAKE_ENCRYPTION_KEYS (postgres)', () => {
  const k1 = generateEncryptionKey('k1');
  const k2 = generateEncryptionKey('k2');
  const codecEndpoint = (config: Intake['config']) =>
    apiExtraRouters(config, { uiOrigins: [], codecAuth: true });
  let a: Intake;
  let b: Intake | undefined;
  beforeAll(async () => {
    a = await startIntake({
      store: 'postgres',
      env: { INTAKE_ENCRYPTION_KEYS: k1 },
      extraRouters: codecEndpoint,
    });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  const first = secretEvent();

  it('keeps every payload value out of the raw history, and still processes the event', async () => {
    const res = await post(a.url, first.req);
    expect(res.status).toBe(200);
    await waitProcessed(a, first.id);
    const row = await a.store.query('SELECT recipient FROM mailgun_events WHERE event_id = $1', [
      first.eventId,
    ]);
    expect(row.rows[0]?.recipient).toBe(first.recipient);

    const { history, bytes } = await rawHistory(a, first.id);
    // Control: ids in the workflow id and search attributes are stored in clear, so the search works.
    expect(bytes.includes(Buffer.from(first.eventId))).toBe(true);
    expect(bytes.includes(Buffer.from(first.recipient))).toBe(false);
    expect(bytes.includes(Buffer.from(first.subject))).toBe(false);
    expect(JSON.stringify(history)).not.toContain(first.recipient);

    const input = startInput(history);
    expect(meta(input, 'encoding')).toBe('binary/encrypted');
    expect(meta(input, 'encryption-key-id')).toBe('k1');
  });

  it('decodes a payload of that history through POST /codec/decode (admin only)', async () => {
    const input = startInput((await rawHistory(a, first.id)).history);
    const decoded = await decodeViaApi(a, input);
    expect(decoded.status).toBe(200);
    expect(Buffer.from(decoded.payload?.metadata.encoding ?? '', 'base64').toString()).toBe('json/plain');
    const plain = JSON.parse(Buffer.from(decoded.payload?.data ?? '', 'base64').toString());
    expect(plain.payload['event-data'].recipient).toBe(first.recipient);
    expect(plain.payload['event-data'].message.headers.subject).toBe(first.subject);

    const anonymous = await fetch(`${a.url}/codec/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payloads: [] }),
    });
    expect(anonymous.status).toBe(401);
  });

  it('encrypts an offloaded large payload in the store too', async () => {
    const large = secretEvent({ padBytes: 200 * 1024 });
    expect((await post(a.url, large.req)).status).toBe(200);
    await waitProcessed(a, large.id);
    const stored = await a.store.query<{ data: Buffer; encrypted: boolean }>(
      'SELECT data, encrypted FROM offloaded_payloads WHERE id = $1',
      [large.id],
    );
    const row = stored.rows[0];
    expect(row?.encrypted).toBe(true);
    expect(row?.data.length).toBeGreaterThan(200 * 1024);
    expect(row?.data.includes(Buffer.from(large.subject))).toBe(false);
    expect(row?.data.includes(Buffer.from(large.recipient))).toBe(false);
    const { bytes } = await rawHistory(a, large.id);
    expect(bytes.length).toBeLessThan(64 * 1024);
  });

  it('after a key rotation (k2 first, k1 kept) old events stay readable and new ones use k2', async () => {
    // An event accepted under k1 that no worker has processed yet, across the rotation.
    await a.stopWorker();
    const queued = secretEvent();
    expect((await post(a.url, queued.req)).status).toBe(200);

    b = await startIntake({
      store: 'postgres',
      shareWith: a,
      env: { INTAKE_ENCRYPTION_KEYS: `${k2},${k1}` },
      extraRouters: codecEndpoint,
    });
    await waitProcessed(b, queued.id);
    expect(await waitProcessed(b, first.id)).toMatchObject({ id: first.id, status: 'processed' });

    // History written under k1 decodes with the rotated key set.
    const old = await decodeViaApi(b, startInput((await rawHistory(b, first.id)).history));
    expect(old.status).toBe(200);
    expect(Buffer.from(old.payload?.data ?? '', 'base64').toString()).toContain(first.recipient);

    const fresh = secretEvent();
    expect((await post(b.url, fresh.req)).status).toBe(200);
    await waitProcessed(b, fresh.id);
    const input = startInput((await rawHistory(b, fresh.id)).history);
    expect(meta(input, 'encryption-key-id')).toBe('k2');
    const rows = await b.store.query(
      'SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = ANY($1)',
      [[queued.eventId, fresh.eventId]],
    );
    expect(rows.rows[0]?.n).toBe(2);

    // Without k1 the old history is unreadable: the rotation really depends on keeping it.
    const onlyK2 = await startIntake({
      store: 'postgres',
      shareWith: a,
      worker: false,
      env: { INTAKE_ENCRYPTION_KEYS: k2 },
      extraRouters: codecEndpoint,
    });
    try {
      const refused = await decodeViaApi(onlyK2, startInput((await rawHistory(b, first.id)).history));
      expect(refused.status).toBe(400);
    } finally {
      await onlyK2.stop();
    }
  });
});
