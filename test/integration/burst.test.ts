import { mailgunExample } from '../../src/samples';
import { post, startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';

const EVENTS = 150;
const TYPES = ['delivered', 'opened', 'clicked', 'failed', 'accepted'];

/**
 * Issue 10, item 3: in a burst, a few handler attempts hung for the whole activity timeout and then
 * succeeded on their retry. Here the API, the worker and the embedded store share one process, as
 * in `intake dev`, and every request of the burst is in flight at once. Whatever the timing, no
 * event may need a second attempt: none may time out, none may fall back to the regular activity.
 */
describe('a burst of concurrent webhooks (API, worker and PGlite in one process)', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'pglite' });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('processes every event of the burst on its first attempt', async () => {
    const bodies = Array.from({ length: EVENTS }, (_, i) =>
      mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: TYPES[i % TYPES.length] }),
    );
    const answers = await Promise.all(bodies.map((b) => post(intake.url, b)));
    // A delivery retried after a connection reset may find its first attempt started: duplicate.
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(['accepted', 'duplicate']).toContain(a.json.status);
    }
    const ids = answers.map((a) => a.json.id as string);

    const count = async () =>
      Number((await intake.store.query('SELECT count(*)::int AS n FROM processed_events')).rows[0]?.n);
    await waitFor(async () => (await count()) === EVENTS, 240_000, `${EVENTS} processed`);

    const retried: string[] = [];
    for (const id of ids) {
      const handle = intake.client.workflow.getHandle(id);
      const state = (await handle.result()) as { status: string; attempts: number };
      const events = (await handle.fetchHistory()).events ?? [];
      const timedOut = events.some((e) => e.activityTaskTimedOutEventAttributes);
      const fellBack = events.some((e) => e.activityTaskScheduledEventAttributes);
      if (state.status !== 'processed' || state.attempts !== 1 || timedOut || fellBack) retried.push(id);
    }
    expect(retried).toEqual([]);
  });
});
