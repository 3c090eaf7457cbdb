import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { z } from 'zod';
import { mailgunEventDataSchema, mailgunSource, mailgunWebhookSchema } from '../../src/sources/mailgun';
import { customerDataSchema } from '../../src/sources/partners';
import { OFFSET_MESSAGE } from '../../src/sources/validation';
import { StartSpool } from '../../src/store/start-spool';
import { adminGet, startIntake, TEST_ADMIN_TOKEN, waitFor, type Intake } from '../support/harness';
import { freePort } from '../support/ports';
import { mailgunRequest, partnerRequest, send, type Json } from '../support/requests';

/**
 * Issue 19's security holes, each reproduced as the adversarial run found it: a forged event through
 * the quarantine, acknowledged events that could never start, an unbounded quarantine, a store that
 * refuses writes while /readyz says ready, and admin bodies that were silently ignored.
 */

/** A new severity value: signed and well-formed, but the schema refuses it (quarantined). */
const softSeverity = (b: Json) => ((b['event-data'] as Json).severity = 'soft');
const eventData = (b: Json) => b['event-data'] as Json;
const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const rejectedCount = async (intake: Intake) =>
  (await intake.store.query<{ n: number }>('SELECT count(*)::int AS n FROM rejected_events')).rows[0]!.n;
/** The signed request `base` re-sent with its signature block and other event-data. */
const withSignatureOf = (
  base: ReturnType<typeof mailgunRequest>,
  other: ReturnType<typeof mailgunRequest>,
) => {
  const body = { ...other.json, signature: base.json.signature };
  return { ...other, body: JSON.stringify(body) };
};

describe('forgery through the quarantine (Mailgun signs only timestamp + token)', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres' });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('binds the token of a quarantined request: its signature block with other event-data gets 401', async () => {
    const real = mailgunRequest({ mutate: softSeverity, event: 'delivered' });
    expect((await send(intake.url, real)).status).toBe(422);
    expect(await rejectedCount(intake)).toBe(1);

    // Forged, schema-valid event-data with another event id: was 200 and processed.
    const forged = withSignatureOf(real, mailgunRequest({ event: 'unsubscribed' }));
    const answer = await send(intake.url, forged);
    expect([answer.status, answer.json]).toEqual([401, { error: 'invalid_signature' }]);
    // The same event id with other, schema-valid content cannot take the quarantined event's place.
    const sameId = withSignatureOf(real, mailgunRequest({ eventId: real.eventId, event: 'unsubscribed' }));
    expect((await send(intake.url, sameId)).status).toBe(401);
    // Other content the schema refuses too is not stored either (one block, one row at most).
    const flood = withSignatureOf(
      real,
      mailgunRequest({ mutate: (b) => ((eventData(b).severity = 'soft'), (eventData(b).reason = 'x')) }),
    );
    expect((await send(intake.url, flood)).status).toBe(401);
    expect(await rejectedCount(intake)).toBe(1);
    const started = await intake.client.workflow.count(`TaskQueue="${intake.config.temporal.taskQueue}"`);
    expect(started.count).toBe(0);

    // After the schema fix the real event is re-ingested and wins: its token is bound to its
    // content, which is what the re-ingest presents (binding it to the event id now would be 401).
    const [row] = (await adminGet(intake.url, '/admin/events?status=rejected')).json.events as {
      id: string;
    }[];
    const original = mailgunSource.schema;
    (mailgunSource as { schema: unknown }).schema = z.looseObject({
      ...mailgunWebhookSchema.shape,
      'event-data': mailgunEventDataSchema.extend({ severity: z.string().max(64).optional() }),
    });
    try {
      const res = await fetch(`${intake.url}/admin/rejected/${row!.id}/reingest`, {
        method: 'POST',
        headers: admin,
      });
      expect([res.status, await res.json()]).toEqual([
        200,
        { id: `mailgun:${real.eventId}`, status: 'accepted', rejectedId: row!.id },
      ]);
      // The worker (in this process) validates with the fixed schema too.
      await waitFor(
        async () => (await intake.events.get(`mailgun:${real.eventId}`)).status === 'processed',
        60_000,
        'the re-ingested event processed',
      );
    } finally {
      (mailgunSource as { schema: unknown }).schema = original;
    }
  });
});

describe('nothing is acknowledged that Temporal can never start', () => {
  let intake: Intake;
  let down: Intake;
  beforeAll(async () => {
    const env = {
      INTAKE_MAX_BODY_BYTES: String(1024 * 1024),
      INTAKE_OFFLOAD_THRESHOLD_BYTES: String(1024 * 1024),
    };
    intake = await startIntake({ store: 'postgres', env });
    // Temporal unreachable: every event goes to the spool.
    down = await startIntake({
      store: 'postgres',
      worker: false,
      temporalAddress: `127.0.0.1:${await freePort()}`,
      env: { ...env, INTAKE_START_TIMEOUT_MS: '500' },
    });
  });
  afterAll(async () => {
    await down?.stop();
    await intake?.stop();
  });

  /** A message id of 700 three-byte characters: 2,100 bytes, over Temporal's 2,048-byte value limit. */
  const longMessageId = `${'€'.repeat(700)}@mg.example.com`;

  it.each([
    ['Temporal up', () => intake],
    ['Temporal down (spool)', () => down],
  ])('refuses a message id over 998 bytes with 422 and its path (%s)', async (_what, target) => {
    const req = mailgunRequest({ messageId: longMessageId });
    const res = await send(target().url, req);
    expect(res.status).toBe(422);
    expect(res.json).toEqual({
      error: 'validation_failed',
      issues: [
        { path: 'event-data.message.headers.message-id', message: 'must be at most 998 bytes in UTF-8' },
      ],
    });
    expect((await target().store.query('SELECT 1 FROM start_spool')).rowCount).toBe(0);
  });

  /** A 1 MiB body of `1e20` numbers: 4.4 times as large once serialised, past gRPC's 4 MiB. */
  const numbersBody = () =>
    mailgunRequest({
      mutate: (b) => (eventData(b)['user-variables'] = { n: Array.from({ length: 200_000 }, () => 1e20) }),
    });
  const asNumbers = (r: ReturnType<typeof mailgunRequest>) => ({
    ...r,
    body: (r.body as string).replace(/100000000000000000000/g, '1e20'),
  });

  it('starts and processes a 1 MiB body of 1e20 numbers (offloaded after measuring it serialised)', async () => {
    const req = asNumbers(numbersBody());
    expect((req.body as string).length).toBeLessThan(1024 * 1024);
    const res = await send(intake.url, req);
    expect([res.status, res.json]).toEqual([200, { id: `mailgun:${req.eventId}`, status: 'accepted' }]);
    await waitFor(
      async () => (await intake.events.get(`mailgun:${req.eventId}`)).status === 'processed',
      120_000,
      'the 1e20 body processed',
    );
  });

  it('spools such a body with a reference, not inline, while Temporal is down', async () => {
    const req = asNumbers(numbersBody());
    const res = await send(down.url, req);
    expect(res.status).toBe(200);
    const spooled = await new StartSpool(down.store).find(`mailgun:${req.eventId}`);
    expect(spooled?.start.input.payload).toBeNull();
    expect(spooled?.start.input.payloadRef).toMatchObject({ key: `mailgun:${req.eventId}` });
  });

  it('makes a spooled start Temporal refuses a dead letter: listed, shown with its error, never blocking', async () => {
    // A row an older version spooled that Temporal refuses for good (a search attribute over 2 KiB).
    const template = mailgunRequest();
    const id = `mailgun:dead-${randomBytes(6).toString('hex')}`;
    const spool = new StartSpool(intake.store);
    await intake.store.tx(async (q) => {
      await spool.addMany(q, [
        {
          reason: 'unavailable',
          start: {
            workflowId: id,
            input: {
              id,
              source: 'x'.repeat(3000),
              eventId: id.slice('mailgun:'.length),
              eventType: 'delivered',
              entity: 'm@example.com',
              payload: template.json,
              params: {},
              receivedAt: new Date().toISOString(),
              activity: 'handleMailgun',
              retry: intake.config.retry,
              activityTimeoutMs: intake.config.activityTimeoutMs,
              heartbeatTimeoutMs: intake.config.activityHeartbeatTimeoutMs,
              localFirst: true,
            },
            searchAttributes: { source: 'x'.repeat(3000), eventType: 'delivered', entity: 'm@example.com' },
          },
        },
      ]);
    });
    const view = await waitFor(
      async () => {
        const v = await adminGet(intake.url, `/events/${encodeURIComponent(id)}`);
        return v.json.status === 'dead' ? v.json : undefined;
      },
      60_000,
      'the refused start to become a dead letter',
    );
    expect(view.lastError).toMatch(/Temporal refused the start/);
    const attempts = async () =>
      (
        await intake.store.query<{ attempts: number }>(
          'SELECT attempts FROM start_spool WHERE workflow_id = $1',
          [id],
        )
      ).rows[0]!.attempts;
    const first = await attempts();
    const listed = await adminGet(intake.url, '/admin/events?status=dead');
    expect((listed.json.events as { id: string; status: string }[]).map((e) => [e.id, e.status])).toEqual([
      [id, 'dead'],
    ]);
    const ready = (await (await fetch(`${intake.url}/readyz`)).json()) as Record<string, unknown>;
    expect(ready).toMatchObject({ status: 'ready', deadLetters: 1 });

    // New events start directly, not behind it in the spool; the dead row is not tried again.
    const fresh = mailgunRequest();
    expect((await send(intake.url, fresh)).status).toBe(200);
    expect(await spool.find(`mailgun:${fresh.eventId}`)).toBeUndefined();
    await waitFor(
      async () => (await intake.events.get(`mailgun:${fresh.eventId}`)).status === 'processed',
      60_000,
      'the next event processed',
    );
    await new Promise((r) => setTimeout(r, 3000));
    expect(await attempts()).toBe(first);
  });
});

describe('quarantine caps and a store that refuses writes', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      worker: false,
      env: { INTAKE_QUARANTINE_MAX_ROWS: '3', INTAKE_QUARANTINE_MAX_BYTES: String(64 * 1024) },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('stores at most INTAKE_QUARANTINE_MAX_ROWS per source, then answers 429 with Retry-After', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => send(intake.url, mailgunRequest({ mutate: softSeverity }))),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([422, 422, 422, 429, 429, 429, 429, 429]);
    const full = answers.find((a) => a.status === 429)!;
    expect(full.json).toEqual({ error: 'quarantine_full' });
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await rejectedCount(intake)).toBe(3);
    // A full quarantine is not a store outage: still ready, and valid events are accepted.
    expect((await fetch(`${intake.url}/readyz`)).status).toBe(200);
    expect((await send(intake.url, mailgunRequest())).status).toBe(200);
    await intake.store.query('DELETE FROM rejected_events');
  });

  it('stores at most INTAKE_QUARANTINE_MAX_BYTES per source', async () => {
    const big = () =>
      mailgunRequest({ mutate: (b) => (softSeverity(b), (eventData(b).pad = 'x'.repeat(20 * 1024))) });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send(intake.url, big())).status);
    expect(statuses).toEqual([422, 422, 422, 429]);
    const { rows } = await intake.store.query<{ bytes: string }>(
      'SELECT sum(octet_length(body))::bigint AS bytes FROM rejected_events',
    );
    expect(Number(rows[0]!.bytes)).toBeLessThanOrEqual(64 * 1024);
    await intake.store.query('DELETE FROM rejected_events');
  });

  it('reports a store that refuses writes (disk full) as not ready, and ready again once it writes', async () => {
    await intake.store.query(`
      CREATE OR REPLACE FUNCTION intake_test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END $$;
      CREATE TRIGGER intake_test_disk_full BEFORE INSERT ON mailgun_tokens
        FOR EACH ROW EXECUTE FUNCTION intake_test_disk_full();`);
    try {
      const refused = await send(intake.url, mailgunRequest());
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBeTruthy();
      const ready = await fetch(`${intake.url}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([
        503,
        expect.objectContaining({
          status: 'unavailable',
          store: 'refusing-writes',
          storeError: 'SQLSTATE 53100',
        }),
      ]);
    } finally {
      await intake.store.query('DROP TRIGGER intake_test_disk_full ON mailgun_tokens');
    }
    expect((await send(intake.url, mailgunRequest())).status).toBe(200);
    expect((await fetch(`${intake.url}/readyz`)).status).toBe(200);
  });
});

describe('partner updatedAt offsets: the schema accepts exactly what PostgreSQL holds', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres', worker: false });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('refuses +16:00 with 422 and its path (was 202, then parked)', async () => {
    const res = await send(intake.url, partnerRequest({ data: { updatedAt: '2024-05-01T12:00:00+16:00' } }));
    expect([res.status, res.json]).toEqual([
      422,
      { error: 'validation_failed', issues: [{ path: 'data.updatedAt', message: OFFSET_MESSAGE }] },
    ]);
  });

  it('fuzz: any offset and date the schema accepts, timestamptz holds, and the other way round', async () => {
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    const dateTime = fc
      .record({
        year: fc.integer({ min: 0, max: 9999 }),
        month: fc.integer({ min: 1, max: 12 }),
        day: fc.integer({ min: 1, max: 28 }),
        hour: fc.integer({ min: 0, max: 23 }),
        sign: fc.constantFrom('+', '-'),
        oh: fc.integer({ min: 0, max: 23 }),
        om: fc.integer({ min: 0, max: 59 }),
      })
      .map(
        (d) =>
          `${pad(d.year, 4)}-${pad(d.month)}-${pad(d.day)}T${pad(d.hour)}:30:00${d.sign}${pad(d.oh)}:${pad(d.om)}`,
      );
    await fc.assert(
      fc.asyncProperty(dateTime, async (v) => {
        const accepted = customerDataSchema.safeParse({ id: 'cus_1', updatedAt: v }).success;
        const held = await intake.store
          .query('SELECT $1::timestamptz', [v])
          .then(() => true)
          .catch(() => false);
        // Year 0000 PostgreSQL reads as 1 BC; the schema refuses it on purpose.
        if (v.startsWith('0000')) return !accepted;
        return accepted === held;
      }),
      { numRuns: 300, seed: 19 },
    );
  });
});

describe('admin requests take only JSON objects or query parameters', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres', worker: false });
  });
  afterAll(async () => {
    await intake?.stop();
  });
  const redrives = async () =>
    (await intake.client.workflow.count(`TaskQueue="${intake.config.temporal.taskQueue}"`)).count;
  const retryParked = (headers: Record<string, string>, body?: string) =>
    fetch(`${intake.url}/admin/retry-parked`, { method: 'POST', headers: { ...admin, ...headers }, body });

  it.each([
    ["curl -d's form default", 'application/x-www-form-urlencoded', 'dryRun=true', 415],
    ['text/plain', 'text/plain', '{"dryRun":true}', 415],
    ['a JSON array', 'application/json', '[{"dryRun":true}]', 400],
    ['a JSON string', 'application/json', '"dryRun"', 400],
    ['broken JSON', 'application/json', '{"dryRun":', 400],
    ['JSON with charset=utf-16', 'application/json; charset=utf-16', '{"dryRun":true}', 415],
  ])('refuses %s and starts no redrive', async (_what, type, body, status) => {
    const before = await redrives();
    const res = await retryParked({ 'content-type': type }, body);
    expect(res.status).toBe(status);
    const { error } = (await res.json()) as { error: string };
    expect(status === 415 ? ['unsupported_media_type'] : ['bad_request', 'invalid_json']).toContain(error);
    expect(await redrives()).toBe(before);
  });

  it('takes a JSON object body or query parameters; refuses a rate of 1e-300', async () => {
    const dry = await retryParked({ 'content-type': 'application/json' }, '{"dryRun":true}');
    expect([dry.status, await dry.json()]).toEqual([
      200,
      expect.objectContaining({ matched: expect.any(Number) }),
    ]);
    const query = await fetch(`${intake.url}/admin/retry-parked?dryRun=true`, {
      method: 'POST',
      headers: admin,
    });
    expect(query.status).toBe(200);
    const tiny = await fetch(`${intake.url}/admin/retry-parked?rate=1e-300`, {
      method: 'POST',
      headers: admin,
    });
    expect(tiny.status).toBe(400);
  });

  it('refuses an unsigned 1 MiB Mailgun body with 401 without parsing it', async () => {
    const pad = 'x'.repeat(1024 * 1024 - 400);
    const forgedBlock = {
      timestamp: String(Math.floor(Date.now() / 1000)),
      token: 't'.repeat(50),
      signature: '0'.repeat(64),
    };
    // Invalid JSON after a wrongly signed block: the block is checked first (was 400 after a full parse).
    const broken = `{"signature":${JSON.stringify(forgedBlock)},"event-data":{"pad":"${pad}"`;
    // The block at the end, behind a megabyte of event-data.
    const last = `{"event-data":{"pad":"${pad}"},"signature":${JSON.stringify(forgedBlock)}}`;
    const parse = jest.spyOn(JSON, 'parse');
    try {
      for (const body of [broken, last]) {
        const res = await send(intake.url, {
          method: 'POST',
          path: '/webhooks/mailgun',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect([res.status, res.json]).toEqual([401, { error: 'invalid_signature' }]);
      }
      const parsedLarge = parse.mock.calls.filter(
        ([text]) => typeof text === 'string' && text.length > 64 * 1024,
      );
      expect(parsedLarge).toHaveLength(0);
    } finally {
      parse.mockRestore();
    }
    // A correctly signed body is still parsed and accepted, wherever its block sits.
    const ok = mailgunRequest();
    const { signature, ...rest } = ok.json;
    const reordered = { ...ok, body: JSON.stringify({ ...rest, signature }) };
    expect((await send(intake.url, reordered)).status).toBe(200);
  });

  it('answers 404, not 500, for a quarantine id with a NUL byte', async () => {
    const res = await fetch(`${intake.url}/admin/rejected/%00/reingest`, { method: 'POST', headers: admin });
    expect(res.status).toBe(404);
  });
});
