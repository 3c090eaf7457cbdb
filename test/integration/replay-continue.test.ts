import { eventArchiveFor } from '../../src/ingest/archive';
import { ReplayService, type ReplayStart } from '../../src/operations/replay-service';
import { replayProgressQuery } from '../../workflows/replay-events';
import { startIntake, waitFor, type Intake } from '../support/harness';
import {
  adminPost,
  ledgerRevisions,
  messageId,
  replayClosed,
  replayView,
  sendMailgun,
  waitRevision,
} from '../support/replay';

// Real dev server, worker and store on a busy 2-core host.
jest.setTimeout(600_000);

const started = (r: ReplayStart): string => {
  if (!('replay' in r)) throw new Error('the replay did not start');
  return r.replay;
};

/**
 * Issue 20: a replay of many events does not grow one history without bound. It continues as new
 * (here after two batches of two events, through the workflow input; a real replay continues when
 * Temporal suggests it), carrying the archive cursor and the counts; the progress query and cancel
 * reach whichever run is current.
 */
describe('a replay that continues as new', () => {
  let intake: Intake;
  let replays: ReplayService;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres' });
    replays = new ReplayService(
      intake.client,
      intake.config.temporal.taskQueue,
      intake.store,
      eventArchiveFor(intake.config),
    );
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('replays every event once across its runs, and its result counts all of them', async () => {
    const sent = await sendMailgun(intake, [[messageId(), 'delivered', 10]]);
    const ids = sent.map((s) => s.id);
    await waitRevision(intake, ids, 1);
    const id = started(
      await replays.start({ source: 'mailgun', type: 'delivered', ids, reason: 'continue-as-new' }, 'admin', {
        batchSize: 2,
        batchesPerRun: 2,
      }),
    );
    const first = await intake.client.workflow.getHandle(id).describe();
    const view = await replayClosed(intake, id);
    expect(view).toMatchObject({ status: 'completed', matched: 10, replayed: 10, notStarted: 0, parked: 0 });
    // Pages in arrival order across runs: with seqs 1…10 a text order ("1", "10", "2") made the
    // second run's page start at the wrong place, replaying some events twice and others never.
    await waitRevision(intake, ids, 2);

    // 10 events in batches of 2, 2 batches a run: runs of 4, 4 and 2 events.
    const result = (await intake.client.workflow.getHandle(id).result()) as { continuedRuns?: number };
    expect(result.continuedRuns).toBe(2);
    const firstRun = await intake.client.workflow.getHandle(id, first.runId).describe();
    expect(firstRun.status.name).toBe('CONTINUED_AS_NEW');
    const last = await intake.client.workflow.getHandle(id).describe();
    expect(last.runId).not.toBe(first.runId);
    expect(last.status.name).toBe('COMPLETED');
    // Each event's revision went up once: no event was taken by two runs.
    const revisions = await ledgerRevisions(intake, ids);
    expect([...revisions.values()]).toEqual(ids.map(() => 2));
    const archive = await intake.store.query<{ revision: number; n: number }>(
      'SELECT revision, count(*)::int AS n FROM event_archive WHERE id = ANY($1) GROUP BY revision',
      [ids],
    );
    expect(archive.rows).toEqual([{ revision: 2, n: 10 }]);
    const row = await intake.store.query('SELECT status, replayed, not_started FROM replays WHERE id = $1', [
      id,
    ]);
    expect(row.rows).toEqual([{ status: 'completed', replayed: 10, not_started: 0 }]);
  });

  it('answers progress and is cancelled on a later run; replayed + not started = matched', async () => {
    const sent = await sendMailgun(intake, [[messageId(), 'delivered', 30]]);
    const ids = sent.map((s) => s.id);
    await waitRevision(intake, ids, 1);
    const id = started(
      await replays.start(
        { source: 'mailgun', type: 'delivered', ids, rate: 2, reason: 'continue-as-new, then cancel' },
        'admin',
        { batchesPerRun: 2 },
      ),
    );
    const handle = intake.client.workflow.getHandle(id);
    // The current run answers the query with the counts of the runs before it.
    const progress = await waitFor(
      async () => {
        const p = await handle.query(replayProgressQuery).catch(() => undefined);
        return p && (p.continuedRuns ?? 0) >= 2 ? p : undefined;
      },
      300_000,
      'the replay on its third run',
    );
    expect(progress.replayed).toBeGreaterThanOrEqual(4);
    expect((await replayView(intake, id)).replayed).toBeGreaterThanOrEqual(4);

    const cancel = await adminPost(intake, `/admin/replays/${encodeURIComponent(id)}/cancel`);
    expect(cancel.status).toBe(202);
    const view = await replayClosed(intake, id);
    expect(view.status).toBe('cancelled');
    expect(view.replayed).toBeGreaterThanOrEqual(4);
    expect(view.replayed).toBeLessThan(30);
    expect(view.replayed + view.notStarted).toBe(30);
    // Exactly the replayed events ran again.
    await waitFor(
      async () =>
        [...(await ledgerRevisions(intake, ids)).values()].filter((r) => r === 2).length === view.replayed,
      120_000,
      'the replayed events at revision 2',
    );
    const revisions = await ledgerRevisions(intake, ids);
    expect([...revisions.values()].filter((r) => r === 1)).toHaveLength(30 - view.replayed);
  });
});
