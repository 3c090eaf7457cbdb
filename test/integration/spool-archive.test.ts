import { WorkflowNotFoundError } from '@temporalio/client';
import { deleteWorkflow } from '../support/archive';
import { adminGet, startIntake, waitFor, type Intake } from '../support/harness';
import { mailgunRequest, send } from '../support/requests';
import { stoppableServer } from '../support/stoppable-server';

// Kills and restarts a dev server on a busy 2-core host.
jest.setTimeout(300_000);

const count = async (intake: Intake, sql: string, values: unknown[] = []) =>
  (await intake.store.query<{ n: number }>(sql, values)).rows[0]!.n;

/**
 * Issue 20: an event the archive has as processed is not started again by a redelivery, on the
 * spool's path too. With Temporal down a redelivery goes to the start spool, and once Temporal is
 * back the relay would start it: after Temporal's retention removed the first run, a second run.
 */
describe('a redelivery of an archived event while Temporal is down', () => {
  let temporal: Awaited<ReturnType<typeof stoppableServer>>;
  let intake: Intake;
  beforeAll(async () => {
    temporal = await stoppableServer();
    intake = await startIntake({ store: 'postgres', temporalAddress: temporal.address });
  });
  afterAll(async () => {
    await intake?.stop();
    await temporal?.close();
  });

  const ran = (eventId: string) =>
    count(intake, 'SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = $1', [eventId]);
  const gone = async (id: string) => {
    try {
      await intake.client.workflow.getHandle(id).describe();
      return false;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return true;
      throw err;
    }
  };
  const relayedDuplicates = async () =>
    Number(
      /^intake_spool_relayed_total\{source="mailgun",outcome="duplicate"\} (\d+)$/m.exec(
        await (await fetch(`${intake.url}/metrics`)).text(),
      )?.[1] ?? 0,
    );
  /** Temporal back, and the relay has seen it (no longer spooling) and emptied the spool. */
  const relayed = async () => {
    await temporal.restart();
    await waitFor(
      async () => {
        const ready = (await (await fetch(`${intake.url}/readyz`)).json()) as Record<string, unknown>;
        return (
          ready.status === 'ready' &&
          (await count(intake, 'SELECT count(*)::int AS n FROM start_spool')) === 0
        );
      },
      120_000,
      'the relay to see Temporal again and empty the spool',
    );
  };

  it('is a duplicate, is not spooled, and starts nothing once Temporal is back (workflow deleted)', async () => {
    const req = mailgunRequest();
    const id = `mailgun:${req.eventId}`;
    expect((await send(intake.url, req)).json).toEqual({ id, status: 'accepted' });
    await waitFor(
      async () => (await adminGet(intake.url, `/events/${id}`)).json.status === 'processed',
      60_000,
    );
    await deleteWorkflow(intake, id); // as Temporal's retention would

    await temporal.kill();
    // The first delivery after the kill finds Temporal down; the redelivery then goes to the spool's way.
    const other = mailgunRequest();
    expect((await send(intake.url, other)).json).toEqual({
      id: `mailgun:${other.eventId}`,
      status: 'accepted',
    });
    expect(await count(intake, 'SELECT count(*)::int AS n FROM start_spool')).toBe(1);
    const again = await send(intake.url, req);
    expect(again).toMatchObject({ status: 200, json: { id, status: 'duplicate' } });
    expect(
      await count(intake, 'SELECT count(*)::int AS n FROM start_spool WHERE workflow_id = $1', [id]),
    ).toBe(0);

    await relayed();
    await waitFor(async () => (await ran(other.eventId)) === 1, 60_000, 'the spooled event processed');
    expect(await gone(id)).toBe(true);
    expect(await ran(req.eventId)).toBe(1);
    expect(await adminGet(intake.url, `/events/${id}`)).toMatchObject({
      json: { status: 'processed', revision: 1 },
    });
  });

  it('the relay does not start a spooled row whose event the archive has as processed', async () => {
    // A redelivery spooled before its first run settled: that run then settles and is deleted
    // before the relay gets to the row (the archive is all that remembers it ran).
    const duplicatesBefore = await relayedDuplicates();
    await temporal.kill();
    const req = mailgunRequest();
    const id = `mailgun:${req.eventId}`;
    expect((await send(intake.url, req)).json).toEqual({ id, status: 'accepted' });
    expect(
      await count(intake, 'SELECT count(*)::int AS n FROM start_spool WHERE workflow_id = $1', [id]),
    ).toBe(1);
    await intake.store.query(
      `UPDATE event_archive SET status = 'processed', processed_at = now() WHERE id = $1`,
      [id],
    );

    await relayed();
    expect(await gone(id)).toBe(true);
    expect(await ran(req.eventId)).toBe(0);
    // Counted as relayed `duplicate`: the row is done, and nothing started.
    expect(await relayedDuplicates()).toBe(duplicatesBefore + 1);
  });
});
