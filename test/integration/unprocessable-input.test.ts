import { startIntake, waitFor, type Intake } from '../support/harness';
import { assertNoPayloadInLogs, capturedLogRecords } from '../support/log-check';
import {
  mailgunRequest,
  partnerRequest,
  rawRequest,
  send,
  type Json,
  type TestRequest,
} from '../support/requests';

/**
 * Acknowledged means processable: what the store or the processing cannot hold is refused with 422
 * and a field path before anything starts, and what the store still refuses (a constraint the
 * schema cannot know) parks at once with a reason that quotes no value.
 */

/** A Mailgun request whose event-data is changed after signing (the signature does not cover it). */
const mailgunWith = (mutate: (eventData: Json) => void) =>
  mailgunRequest({ mutate: (b) => mutate(b['event-data'] as Json) });
/** A Mailgun request whose event-data.timestamp is `literal` in the text (JSON cannot build 1.8e308). */
const mailgunTimestamp = (literal: string) => {
  const r = mailgunRequest();
  return { ...r, body: (r.body as string).replace(/"timestamp":[0-9.]+/, `"timestamp":${literal}`) };
};
/** A partner event whose signed text has `fragment` spliced in as the first member of data. */
const partnerSplice = (fragment: string) => {
  const text = JSON.stringify({
    type: 'customer.upserted',
    data: { id: `cus_${Date.now()}`, updatedAt: new Date().toISOString() },
  });
  return partnerRequest({ bodyText: text.replace('"data":{', `"data":{${fragment},`) });
};

const rows: [string, () => TestRequest, string][] = [
  // The findings of the adversarial run.
  [
    'mailgun: NUL in the message-id',
    () => mailgunWith((e) => ((e.message as Json).headers = { 'message-id': 'a\u0000b@mg.example.com' })),
    'event-data.message.headers.message-id',
  ],
  ['mailgun: timestamp 1.2e29', () => mailgunWith((e) => (e.timestamp = 1.2e29)), 'event-data.timestamp'],
  ['mailgun: timestamp 1.8e308', () => mailgunTimestamp('1.8e308'), 'event-data.timestamp'],
  [
    'partners: lone surrogate as the customer id',
    () => partnerRequest({ data: { id: '\ud800' } }),
    'data.id',
  ],
  [
    'partners: lone surrogate in the name',
    () => partnerRequest({ data: { name: 'Jane \ud800' } }),
    'data.name',
  ],
  // Ids with bidi or zero-width characters.
  [
    'mailgun: bidi override in the message-id',
    () => mailgunWith((e) => ((e.message as Json).headers = { 'message-id': 'evil\u202egpj.exe@x' })),
    'event-data.message.headers.message-id',
  ],
  [
    'mailgun: zero-width no-break space in the event type',
    () => mailgunWith((e) => (e.event = '\ufeffdelivered')),
    'event-data.event',
  ],
  [
    'partners: bidi override in the customer id',
    () => partnerRequest({ data: { id: 'cus_\u202e1' } }),
    'data.id',
  ],
  [
    'partners: zero-width no-break space in the customer id',
    () => partnerRequest({ data: { id: '\ufeffcus_1' } }),
    'data.id',
  ],
  // Anywhere in a stored body, named by the schema or not.
  ['mailgun: NUL in the reason', () => mailgunWith((e) => (e.reason = 'bounced\u0000')), 'event-data.reason'],
  [
    'mailgun: lone surrogate in user-variables',
    () => mailgunWith((e) => (e['user-variables'] = { note: '\udc00' })),
    'event-data.user-variables.note',
  ],
  [
    'partners: NUL in a nested customer field',
    () => partnerRequest({ data: { address: { line1: 'x\u0000' } } }),
    'data.address.line1',
  ],
  ['partners: a number beyond double range', () => partnerSplice('"score":1e400'), 'data.score'],
];

describe('acknowledged means processable', () => {
  let intake: Intake;
  const countWorkflows = async () =>
    (await intake.client.workflow.count(`TaskQueue="${intake.config.temporal.taskQueue}"`)).count;

  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres' });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it(`refuses ${rows.length} bodies the store or the processing cannot hold with 422 and the field path`, async () => {
    const before = await countWorkflows();
    const failures: string[] = [];
    for (const [name, build] of rows) {
      const res = await send(intake.url, build());
      const body = res.json as { error?: string; issues?: { path: string }[] };
      const paths = body.issues?.map((i) => i.path) ?? [];
      if (
        res.status !== 422 ||
        body.error !== 'validation_failed' ||
        !paths.includes(rows.find((r) => r[0] === name)![2])
      )
        failures.push(`${name}: ${res.status} ${res.text}`);
    }
    expect(failures).toEqual([]);
    // Give a wrongly started workflow time to become visible before counting.
    const ok = await send(intake.url, mailgunRequest());
    expect(ok.json).toMatchObject({ status: 'accepted' });
    await waitFor(
      async () => (await countWorkflows()) === before + 1,
      30_000,
      'the valid event to be counted',
    );
    expect(await countWorkflows()).toBe(before + 1);
  });

  it('refuses a request with two Content-Type headers with 415, even when both say JSON', async () => {
    const r = mailgunRequest();
    const head = (types: string[]) =>
      `POST /webhooks/mailgun HTTP/1.1\r\nHost: x\r\n${types.map((t) => `Content-Type: ${t}\r\n`).join('')}` +
      `Content-Length: ${Buffer.byteLength(r.body as string)}\r\nConnection: close\r\n\r\n${r.body as string}`;
    for (const types of [
      ['application/json', 'text/plain'],
      ['application/json', 'application/json'],
    ]) {
      const res = await rawRequest(intake.url, [head(types)]);
      expect({ types, status: res.status, body: JSON.parse(res.body) as unknown }).toEqual({
        types,
        status: 415,
        body: { error: 'unsupported_media_type', expected: 'application/json' },
      });
    }
    const partner = partnerRequest();
    const res = await send(intake.url, {
      ...partner,
      headers: { ...partner.headers, 'content-type': 'application/json, application/json' },
    });
    expect(res.status).toBe(415);
  });

  describe('a value the store refuses although the schema allowed it', () => {
    // Constraints the schema cannot know, added to this file's fresh database. PostgreSQL's message
    // for the first quotes the value (invalid input syntax for type integer: "…"); its detail for
    // the second quotes the whole row (Failing row contains (…)).
    const REASON = 'Reason-Secret-7f3a9c';
    const NAME = 'Name-Secret-51d2e8';
    const TIER = 'Tier-Secret-0c44b1';
    beforeAll(async () => {
      await intake.store.query('ALTER TABLE mailgun_events ALTER COLUMN reason TYPE integer USING NULL');
      await intake.store.query(
        `ALTER TABLE customers ADD CONSTRAINT test_no_vip CHECK (data->>'tier' IS DISTINCT FROM '${TIER}')`,
      );
    });

    /** Waits for the event to park and returns its view and the history's text after the start. */
    async function parked(id: string) {
      const view = await waitFor(
        async () => {
          const v = await intake.events.get(id);
          return v.status === 'parked' ? v : undefined;
        },
        30_000,
        `${id} parked`,
      );
      const history = await intake.client.workflow.getHandle(id).fetchHistory();
      // The start event holds the payload itself; everything after it must not.
      const after = JSON.stringify(
        (history.events ?? []).filter((e) => !e.workflowExecutionStartedEventAttributes),
      );
      return { view, after };
    }

    it.each([
      [
        'mailgun: a class 22 data exception (the value does not fit the column)',
        () => mailgunWith((e) => (e.reason = REASON)),
        /^PermanentProcessingError: the store refused the event's data: store error SQLSTATE 22P02$/,
      ],
      [
        'partners: a class 23 check violation',
        () => partnerRequest({ data: { name: NAME, tier: TIER } }),
        /^PermanentProcessingError: the store refused the event's data: store error SQLSTATE 23514 \(table customers, constraint test_no_vip\)$/,
      ],
    ])('%s parks at once with a reason that quotes no value', async (_what, build, reason) => {
      const res = await send(intake.url, build());
      expect(res.json).toMatchObject({ status: 'accepted' });
      const { view, after } = await parked((res.json as { id: string }).id);
      expect(view.attempts).toBe(1);
      expect(view.lastError).toMatch(reason);
      for (const secret of [REASON, NAME, TIER, 'Failing row', 'invalid input syntax']) {
        expect(after).not.toContain(secret);
      }
      assertNoPayloadInLogs([REASON, NAME, TIER]);
    });

    // Last in the file: it breaks the token table for every later Mailgun request.
    it('the API logs a store error on its own path by code only', async () => {
      await intake.store.query('DELETE FROM mailgun_tokens');
      await intake.store.query('ALTER TABLE mailgun_tokens ALTER COLUMN token TYPE integer USING 0');
      const token = `tok${'5ec7e7'.repeat(6)}`;
      const res = await send(intake.url, mailgunRequest({ token }));
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(res.text).not.toContain(token);
      const line = capturedLogRecords().find(
        (r) => r.msg === 'unhandled error' && JSON.stringify(r).includes('SQLSTATE 22P02'),
      );
      expect(line).toBeDefined();
      assertNoPayloadInLogs([token]);
    });
  });
});
