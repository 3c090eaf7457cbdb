import pg from 'pg';
import { recordMailgunEvent } from '../../src/store/messages-repo';
import { startIntake, TEST_ADMIN_TOKEN, waitFor, type Intake } from '../support/harness';

/**
 * GET /messages/:id must answer from one snapshot. The read-skew window is made deterministic:
 * a writer holds an exclusive lock on mailgun_events while it records an "opened" event, the read
 * starts, and the writer commits only once the read is seen waiting on that lock. A read made of
 * two statements then pairs the old message row with the new event list; one snapshot cannot.
 */
describe('read routes answer from one snapshot (real PostgreSQL, concurrent writer)', () => {
  let intake: Intake;
  let writer: pg.Client;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres', worker: false });
    writer = new pg.Client({ connectionString: intake.config.databaseUrl });
    await writer.connect();
  });
  afterAll(async () => {
    await writer?.end();
    await intake?.stop();
  });

  const event = (n: number, messageId: string, kind: string, at: Date) => ({
    eventId: `skew-${messageId}-${n}`,
    messageId,
    event: kind,
    recipient: 'alice@example.com',
    occurredAt: at,
  });

  it('never shows a message whose counters disagree with its listed events', async () => {
    const messageId = `skew-${Date.now()}@mg.example.com`;
    const t0 = Date.now() - 60_000;
    await intake.store.tx((q) => recordMailgunEvent(q, event(0, messageId, 'delivered', new Date(t0))));

    await writer.query('BEGIN');
    await writer.query('LOCK TABLE mailgun_events IN ACCESS EXCLUSIVE MODE');
    await recordMailgunEvent(writer, event(1, messageId, 'opened', new Date(t0 + 1000)));

    const reading = fetch(`${intake.url}/messages/${encodeURIComponent(messageId)}`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    // The read is now blocked on the writer's lock (whichever statement touches mailgun_events).
    await waitFor(
      async () =>
        Number(
          (
            await intake.store.query(
              `SELECT count(*)::int AS n FROM pg_locks
               WHERE NOT granted AND relation = 'mailgun_events'::regclass`,
            )
          ).rows[0]?.n,
        ) > 0,
      60_000,
      'the read to wait on the lock',
    );
    await writer.query('COMMIT');

    const res = await reading;
    expect(res.status).toBe(200);
    const view = (await res.json()) as { openedCount: number; state: string; events: { event: string }[] };
    const opened = view.events.filter((e) => e.event === 'opened').length;
    expect(view.openedCount).toBe(opened);
    expect(view.state).toBe(view.events.at(-1)?.event);
    // The writer committed before the read's one snapshot was taken: it sees both events.
    expect(view.events.map((e) => e.event)).toEqual(['delivered', 'opened']);
  });
});
