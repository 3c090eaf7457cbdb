import { mailgunExample } from '../../src/samples';
import {
  adminGet,
  post,
  READ_AUTH,
  startIntake,
  TEST_MAILGUN_KEY,
  waitFor,
  type Intake,
} from '../support/harness';

const modes = ['postgres', 'pglite'] as const;

describe.each(modes)('Mailgun end to end on the real Temporal dev server (%s store)', (mode) => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: mode });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const countRows = async (eventId: string) =>
    Number(
      (
        await intake.store.query('SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = $1', [
          eventId,
        ])
      ).rows[0]?.n,
    );

  it('accepts a signed event with 200 (the only success Mailgun knows), processes it into the store, and shows it as processed', async () => {
    const req = mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered' });
    const { 'event-data': data } = JSON.parse(req.body);
    const res = await post(intake.url, req);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id: `mailgun:${data.id}`, status: 'accepted' });

    const view = await waitFor(
      async () => {
        const r = await adminGet(intake.url, `/events/${encodeURIComponent(`mailgun:${data.id}`)}`);
        return r.json.status === 'processed' ? r.json : undefined;
      },
      30_000,
      'processed',
    );
    expect(view).toMatchObject({
      id: `mailgun:${data.id}`,
      source: 'mailgun',
      eventType: 'delivered',
      attempts: 1,
      lastError: null,
    });
    expect(typeof view.processedAt).toBe('string');
    expect(await countRows(data.id)).toBe(1);

    const msg = await fetch(
      `${intake.url}/messages/${encodeURIComponent(data.message.headers['message-id'])}`,
      { headers: READ_AUTH },
    );
    expect(msg.status).toBe(200);
    const body = (await msg.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ state: 'delivered', recipient: 'alice@example.com' });
    expect((body.events as unknown[]).length).toBe(1);
  });

  it('answers a redelivery with 200 duplicate and processes nothing twice', async () => {
    const req = mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'opened' });
    const { 'event-data': data } = JSON.parse(req.body);
    expect((await post(intake.url, req)).status).toBe(200);
    const again = await post(intake.url, req);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ id: `mailgun:${data.id}`, status: 'duplicate' });
    await waitFor(async () => (await countRows(data.id)) === 1, 30_000, 'row');
    // Once processed, a third delivery is still a duplicate (reuse policy), and still one row.
    await waitFor(
      async () => (await intake.events.get(`mailgun:${data.id}`)).status === 'processed',
      30_000,
      'processed',
    );
    expect((await post(intake.url, req)).json).toEqual({ id: `mailgun:${data.id}`, status: 'duplicate' });
    expect(await countRows(data.id)).toBe(1);
  });

  it("folds a message's events into its state by provider time", async () => {
    const messageId = `state-${Date.now()}@mg.example.com`;
    const t = Math.floor(Date.now() / 1000);
    const events = [
      mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered', messageId, timestamp: t - 20 }),
      mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'clicked', messageId, timestamp: t }),
      mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'opened', messageId, timestamp: t - 10 }),
    ];
    for (const e of events) expect((await post(intake.url, e)).status).toBe(200);
    const msg = await waitFor(
      async () => {
        const r = await fetch(`${intake.url}/messages/${encodeURIComponent(messageId)}`, {
          headers: READ_AUTH,
        });
        const b = (await r.json()) as { events?: unknown[] };
        return r.status === 200 && b.events?.length === 3 ? b : undefined;
      },
      30_000,
      'three events',
    );
    expect(msg).toMatchObject({ state: 'clicked', openedCount: 1, clickedCount: 1 });
    expect((msg as { deliveredAt: string | null }).deliveredAt).not.toBeNull();
  });

  it('answers 404 for an unknown event and 401 without the admin token', async () => {
    expect((await adminGet(intake.url, '/events/mailgun:nope')).status).toBe(404);
    expect((await fetch(`${intake.url}/events/mailgun:nope`)).status).toBe(401);
  });
});
