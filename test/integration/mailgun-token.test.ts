import { randomBytes } from 'node:crypto';
import { mailgunExample } from '../../src/sources/mailgun';
import { startTokenSweeper } from '../../src/store/token-sweeper';
import { adminGet, post, startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';

const uid = (prefix: string) => `${prefix}${randomBytes(6).toString('hex')}`;

describe('Mailgun token binding across two API instances on one store (postgres)', () => {
  let first: Intake;
  let second: Intake;
  beforeAll(async () => {
    first = await startIntake({ store: 'postgres' });
    second = await startIntake({ store: 'postgres', shareWith: first, worker: false });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('refuses a token reused with another event id on the other instance, accepts the redelivery', async () => {
    const token = randomBytes(25).toString('hex');
    const timestamp = Math.floor(Date.now() / 1000);
    const eventA = uid('evA');
    const eventB = uid('evB');
    const a = mailgunExample({ signingKey: TEST_MAILGUN_KEY, token, timestamp, eventId: eventA });
    const b = mailgunExample({ signingKey: TEST_MAILGUN_KEY, token, timestamp, eventId: eventB });
    // Same token and timestamp, so the (body-external) signature is valid for both.
    expect(JSON.parse(b.body).signature).toEqual(JSON.parse(a.body).signature);

    const accepted = await post(first.url, a);
    expect(accepted.status).toBe(200);
    expect(accepted.json).toEqual({ id: `mailgun:${eventA}`, status: 'accepted' });

    const reused = await post(second.url, b);
    expect(reused.status).toBe(401);
    expect(reused.json).toEqual({ error: 'invalid_signature' });

    const redelivered = await post(second.url, a);
    expect(redelivered.status).toBe(200);
    expect(redelivered.json).toEqual({ id: `mailgun:${eventA}`, status: 'duplicate' });

    // The reused token started nothing; event A is processed once.
    expect((await adminGet(second.url, `/events/${encodeURIComponent(`mailgun:${eventB}`)}`)).status).toBe(
      404,
    );
    await waitFor(
      async () => (await first.events.get(`mailgun:${eventA}`)).status === 'processed',
      30_000,
      'event A processed',
    );
  });

  it('keeps refusing the reuse on the first instance too (the binding lives in the store)', async () => {
    const token = randomBytes(25).toString('hex');
    const timestamp = Math.floor(Date.now() / 1000);
    const a = mailgunExample({ signingKey: TEST_MAILGUN_KEY, token, timestamp, eventId: uid('evA') });
    const b = mailgunExample({ signingKey: TEST_MAILGUN_KEY, token, timestamp, eventId: uid('evB') });
    expect((await post(second.url, a)).status).toBe(200);
    const reused = await post(first.url, b);
    expect(reused.status).toBe(401);
    expect(reused.json).toEqual({ error: 'invalid_signature' });
  });

  it('sweeps expired bindings and leaves live ones', async () => {
    const expired = uid('expired-');
    const live = uid('live-');
    await first.store.query(
      `INSERT INTO mailgun_tokens (token, event_id, expires_at) VALUES
         ($1, 'ev-old', now() - interval '1 hour'), ($2, 'ev-live', now() + interval '1 hour')`,
      [expired, live],
    );
    const tokens = async () =>
      (
        await first.store.query<{ token: string }>(
          'SELECT token FROM mailgun_tokens WHERE token = ANY($1) ORDER BY token',
          [[expired, live]],
        )
      ).rows.map((r) => r.token);
    expect(await tokens()).toEqual([expired, live].sort());

    const stop = startTokenSweeper(first.store, 50, first.logger, first.config.registry.all);
    try {
      await waitFor(async () => !(await tokens()).includes(expired), 10_000, 'expired binding swept');
    } finally {
      stop();
    }
    expect(await tokens()).toEqual([live]);
  });
});
