import path from 'node:path';
import { z } from 'zod';
import { mailgunEventDataSchema, mailgunSource, mailgunWebhookSchema } from '../../src/sources/mailgun';
import { cliEnv, run } from '../support/cli';
import { adminGet, startIntake, TEST_ADMIN_TOKEN, waitFor, type Intake } from '../support/harness';
import { mailgunRequest, partnerRequest, send, type Json } from '../support/requests';

const root = path.resolve(__dirname, '../..');
/** A new severity value Mailgun might start sending: the schema refuses it until it is widened. */
const softSeverity = (b: Json) => ((b['event-data'] as Json).severity = 'soft');

describe('quarantine of signed events the schema refuses', () => {
  let intake: Intake;
  const cli = (args: string[]) =>
    run(path.join(root, 'node_modules', '.bin', 'tsx'), ['src/cli/main.ts', ...args], {
      ...cliEnv(intake.config),
      INTAKE_API_URL: intake.url,
      INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
  const rejectedCount = async () =>
    (await intake.store.query<{ n: number }>('SELECT count(*)::int AS n FROM rejected_events')).rows[0]!.n;
  const adminPost = (p: string) =>
    fetch(intake.url + p, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });

  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres' });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('keeps it (422), lists it, re-ingests it once the schema accepts it, and processes it once', async () => {
    const same = { timestamp: Math.floor(Date.now() / 1000), messageId: `q-${Date.now()}@mg.example.com` };
    const broken = mailgunRequest({ ...same, mutate: softSeverity });
    const refused = await send(intake.url, broken);
    expect(refused.status).toBe(422);
    expect(refused.json).toMatchObject({
      error: 'validation_failed',
      issues: [{ path: 'event-data.severity' }],
    });
    // Mailgun retries a 422, signed anew (another token): the same event is kept once.
    const resigned = mailgunRequest({ ...same, eventId: broken.eventId, mutate: softSeverity });
    expect(resigned.token).not.toBe(broken.token);
    expect((await send(intake.url, resigned)).status).toBe(422);
    expect(await rejectedCount()).toBe(1);

    const listed = await adminGet(intake.url, '/admin/events?status=rejected&source=mailgun');
    const events = listed.json.events as { id: string; status: string; source: string }[];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: 'rejected', source: 'mailgun' });
    const id = events[0]!.id;
    // Empty parameters are no filter (DESIGN writes the route `?status=&source=&limit=`).
    const blank = await adminGet(intake.url, '/admin/events?status=rejected&source=&limit=');
    expect(blank.status).toBe(200);
    expect((blank.json.events as { id: string }[]).map((e) => e.id)).toContain(id);
    const out = await cli(['events', 'list', '--status', 'rejected', '--json']);
    expect(out.code).toBe(0);
    expect((JSON.parse(out.stdout) as { id: string }[]).map((e) => e.id)).toEqual([id]);
    expect((await adminGet(intake.url, `/events/${id}`)).json).toMatchObject({ status: 'rejected' });
    const shown = await cli(['events', 'show', id]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, status: 'rejected', source: 'mailgun' });

    // Before the fix a re-ingest is refused again and the event stays in quarantine.
    expect((await adminPost(`/admin/rejected/${id}/reingest`)).status).toBe(422);
    expect(await rejectedCount()).toBe(1);

    const original = mailgunSource.schema;
    // The deploy that widens the schema: a new severity value is accepted (the rest unchanged).
    (mailgunSource as { schema: unknown }).schema = z.looseObject({
      ...mailgunWebhookSchema.shape,
      'event-data': mailgunEventDataSchema.extend({ severity: z.string().max(64).optional() }),
    });
    try {
      const reingested = await cli(['events', 'reingest', id]);
      expect(reingested.code).toBe(0);
      expect(JSON.parse(reingested.stdout)).toEqual({
        id: `mailgun:${broken.eventId}`,
        status: 'accepted',
        rejectedId: id,
      });
      expect(await rejectedCount()).toBe(0);
      await waitFor(
        async () => (await intake.events.get(`mailgun:${broken.eventId}`)).status === 'processed',
        30_000,
        'the re-ingested event to be processed',
      );
      // Once: a second re-ingest finds nothing, and the provider's retry is a duplicate.
      expect((await adminPost(`/admin/rejected/${id}/reingest`)).status).toBe(404);
      expect((await send(intake.url, broken)).json).toMatchObject({ status: 'duplicate' });
    } finally {
      (mailgunSource as { schema: unknown }).schema = original;
    }
    const rows = await intake.store.query('SELECT severity FROM mailgun_events WHERE event_id = $1', [
      broken.eventId,
    ]);
    expect(rows.rows).toEqual([{ severity: 'soft' }]);
  });

  it('drops a quarantined event on request', async () => {
    await send(intake.url, mailgunRequest({ mutate: softSeverity }));
    const [row] = (await adminGet(intake.url, '/admin/events?status=rejected')).json.events as {
      id: string;
    }[];
    const out = await cli(['events', 'drop', row!.id]);
    expect(out.code).toBe(0);
    expect((await adminGet(intake.url, `/events/${row!.id}`)).status).toBe(404);
    expect(await rejectedCount()).toBe(0);
  });

  it('never stores unsigned or badly signed requests', async () => {
    const before = await rejectedCount();
    const badKey = mailgunRequest({ key: 'key-wrong', mutate: softSeverity });
    expect((await send(intake.url, badKey)).status).toBe(401);
    const partner = partnerRequest({ data: { id: 42 } });
    const unsigned = { ...partner, headers: { ...partner.headers, 'webhook-signature': 'v1,AAAA' } };
    expect((await send(intake.url, unsigned)).status).toBe(401);
    expect(await rejectedCount()).toBe(before);
  });
});
