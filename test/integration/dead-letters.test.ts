import { randomBytes } from 'node:crypto';
import { StartSpool } from '../../src/store/start-spool';
import { adminGet, startIntake, TEST_ADMIN_TOKEN, waitFor, type Intake } from '../support/harness';
import { mailgunRequest } from '../support/requests';

/**
 * Issue 19: operators drop or requeue a dead letter of the start spool
 * (`intake events dead-letters drop|requeue <id>`, POST /admin/dead-letters/:id/drop|requeue).
 */
describe('dead letters: drop and requeue', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres', worker: false });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const adminPost = async (p: string) => {
    const res = await fetch(intake.url + p, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  /** A valid start, spooled and made a dead letter (as if Temporal had refused it for good). */
  async function deadLetter(): Promise<string> {
    const req = mailgunRequest();
    const id = `mailgun:${req.eventId}-${randomBytes(3).toString('hex')}`;
    const spool = new StartSpool(intake.store);
    await intake.store.tx((q) =>
      spool.addMany(q, [
        {
          reason: 'unavailable',
          start: {
            workflowId: id,
            input: {
              id,
              source: 'mailgun',
              eventId: id.slice('mailgun:'.length),
              eventType: 'delivered',
              entity: 'm@example.com',
              payload: req.json,
              params: {},
              receivedAt: new Date().toISOString(),
              activity: 'handleMailgun',
              retry: intake.config.retry,
              activityTimeoutMs: intake.config.activityTimeoutMs,
              heartbeatTimeoutMs: intake.config.activityHeartbeatTimeoutMs,
              localFirst: true,
            },
            searchAttributes: { source: 'mailgun', eventType: 'delivered', entity: 'm@example.com' },
          },
        },
      ]),
    );
    await intake.store.query(
      "UPDATE start_spool SET dead_at = now(), last_error = 'Temporal refused the start' WHERE workflow_id = $1",
      [id],
    );
    return id;
  }

  it('drops a dead letter for good; a second drop, an unknown or malformed id is 404', async () => {
    const id = await deadLetter();
    expect((await adminGet(intake.url, `/events/${encodeURIComponent(id)}`)).json.status).toBe('dead');
    expect(await adminPost(`/admin/dead-letters/${encodeURIComponent(id)}/drop`)).toEqual({
      status: 200,
      json: { id, action: 'drop' },
    });
    expect((await adminGet(intake.url, `/events/${encodeURIComponent(id)}`)).status).toBe(404);
    for (const other of [id, 'mailgun:unknown', '%00'])
      expect(await adminPost(`/admin/dead-letters/${encodeURIComponent(other)}/drop`)).toMatchObject({
        status: 404,
      });
    expect((await adminGet(intake.url, `/admin/dead-letters/${encodeURIComponent(id)}/drop`)).status).toBe(
      405,
    );
  });

  it('requeues a dead letter: the relay starts it; a queued (not dead) event is not a dead letter', async () => {
    const id = await deadLetter();
    expect(await adminPost(`/admin/dead-letters/${encodeURIComponent(id)}/requeue`)).toEqual({
      status: 200,
      json: { id, action: 'requeue' },
    });
    await waitFor(
      async () => {
        try {
          await intake.client.workflow.getHandle(id).describe();
          return true;
        } catch {
          return undefined;
        }
      },
      60_000,
      'the requeued start to reach Temporal',
    );
    expect((await adminPost(`/admin/dead-letters/${encodeURIComponent(id)}/requeue`)).status).toBe(404);
  });
});
