import { WorkflowNotFoundError } from '@temporalio/client';
import { deleteWorkflow } from '../support/archive';
import { adminGet, post, startIntake, waitFor, type Intake } from '../support/harness';
import {
  adminPost,
  ledgerRevisions,
  message,
  messageId,
  operatorCli,
  replayClosed,
  replayView,
  sendMailgun,
  waitRevision,
} from '../support/replay';

// Each step drives real processes (CLI, dev server, workers) on a busy 2-core host.
jest.setTimeout(900_000);

type Sent = Awaited<ReturnType<typeof sendMailgun>>;

const archiveStatus = async (intake: Intake, ids: string[]) =>
  (
    await intake.store.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM event_archive WHERE id = ANY($1) GROUP BY status',
      [ids],
    )
  ).rows;

const allProcessed = (intake: Intake, ids: string[]) =>
  waitFor(
    async () => {
      const rows = await archiveStatus(intake, ids);
      return rows.length === 1 && rows[0]?.status === 'processed' && rows[0].n === ids.length;
    },
    180_000,
    `${ids.length} processed`,
  );

/** How many times each event is recorded (mailgun_events), by event id. */
const recordedTimes = async (intake: Intake, ids: string[]) =>
  (
    await intake.store.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = ANY($1) GROUP BY event_id',
      [ids.map((id) => id.slice('mailgun:'.length))],
    )
  ).rows.map((r) => r.n);

/**
 * Issue 20, must-show 1, 3 and 4: a bug that did not throw (`mailgun.handler=opened:silent`) left 40
 * `opened` events processed without their effect; after the fix a replay by source, type and time
 * makes each message show exactly its opens, each event once, and a second replay changes nothing.
 * Then a canary with the handler throwing stops at the first parked event, and a cancelled replay's
 * counts add up.
 */
describe('replay of a bug that did not throw (Mailgun)', () => {
  let intake: Intake;
  const m1 = messageId();
  const m2 = messageId();
  let sent: Sent;
  let opened: string[];
  let delivered: string[];
  let since: string;

  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      env: { INTAKE_FAILPOINTS: 'mailgun.handler=opened:silent' },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('with the silent failpoint, every event ends processed and the messages show no opens', async () => {
    since = new Date(Date.now() - 1000).toISOString();
    sent = await sendMailgun(intake, [
      [m1, 'delivered', 5],
      [m2, 'delivered', 5],
      [m1, 'opened', 25],
      [m2, 'opened', 15],
    ]);
    opened = sent.filter((s) => s.event === 'opened').map((s) => s.id);
    delivered = sent.filter((s) => s.event === 'delivered').map((s) => s.id);
    expect(opened).toHaveLength(40);
    await allProcessed(
      intake,
      sent.map((s) => s.id),
    );
    expect(await message(intake, m1)).toMatchObject({ openedCount: 0, state: 'delivered' });
    expect(await message(intake, m2)).toMatchObject({ openedCount: 0, state: 'delivered' });
    expect(await recordedTimes(intake, opened)).toEqual([]);
    const view = (await adminGet(intake.url, `/events/${encodeURIComponent(opened[0]!)}`)).json;
    expect(view).toMatchObject({ status: 'processed', revision: 1, replayedAt: null });
  });

  it('after the fix, a replay by source, type and time makes each message show exactly its opens', async () => {
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });
    const dry = await operatorCli(intake, [
      'events',
      'replay',
      '--source',
      'mailgun',
      '--type',
      'opened',
      '--since',
      since,
      '--dry-run',
      '--reason',
      'count',
    ]);
    expect(dry).toMatchObject({ code: 0 });
    expect(dry.stdout).toContain(
      'dry run: matched 40 archived event(s) of mailgun (opened); nothing replayed',
    );
    expect(await ledgerRevisions(intake, opened)).toEqual(new Map(opened.map((id) => [id, 1])));

    const res = await operatorCli(intake, [
      'events',
      'replay',
      '--source',
      'mailgun',
      '--type',
      'opened',
      '--since',
      since,
      '--reason',
      'opens were not counted (silent bug)',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('replay completed: 40 replayed, 0 parked, 0 not started of 40 matched');
    await waitRevision(intake, opened, 2);
    const show = await waitFor(async () => {
      const v = (await adminGet(intake.url, `/events/${encodeURIComponent(opened[0]!)}`)).json;
      return v.status === 'processed' && v.revision === 2 ? v : undefined;
    });
    expect(show.replayedAt).toEqual(expect.any(String));
    const before1 = await message(intake, m1);
    const before2 = await message(intake, m2);
    expect(before1).toMatchObject({ openedCount: 25 });
    expect(before2).toMatchObject({ openedCount: 15 });
    expect(before1.events as unknown[]).toHaveLength(30);
    expect(await recordedTimes(intake, opened)).toEqual(opened.map(() => 1));
    // The delivered events are untouched: not replayed.
    expect(await ledgerRevisions(intake, delivered)).toEqual(new Map(delivered.map((id) => [id, 1])));

    const id = /replay (replay:\S+)/.exec(res.stdout)![1]!;
    expect(await replayView(intake, id)).toMatchObject({
      id,
      status: 'completed',
      matched: 40,
      replayed: 40,
      parked: 0,
      notStarted: 0,
      reason: 'opens were not counted (silent bug)',
      requestedBy: 'admin',
      filter: { source: 'mailgun', type: 'opened', status: 'processed', since },
    });

    // The same replay again: revision 3, and nothing changes.
    const again = await operatorCli(intake, [
      'events',
      'replay',
      '--source',
      'mailgun',
      '--type',
      'opened',
      '--since',
      since,
      '--reason',
      'again',
    ]);
    expect(again.code).toBe(0);
    await waitRevision(intake, opened, 3);
    expect(await message(intake, m1)).toEqual(before1);
    expect(await message(intake, m2)).toEqual(before2);
    expect(await recordedTimes(intake, opened)).toEqual(opened.map(() => 1));
    expect(await ledgerRevisions(intake, delivered)).toEqual(new Map(delivered.map((id) => [id, 1])));
  });

  it('a canary with the handler still throwing stops at the first parked event; nothing else is replayed', async () => {
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: 'mailgun.handler=opened' });
    const res = await operatorCli(intake, [
      'events',
      'replay',
      '--source',
      'mailgun',
      '--type',
      'opened',
      '--canary',
      '5',
      '--reason',
      'canary',
    ]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(
      /canary stopped the replay: mailgun:\S+:r4 parked \(Error: failpoint mailgun\.handler\)/,
    );
    expect(res.stdout).toContain('1 replayed, 1 parked, 39 not started of 40 matched');
    const id = /replay (replay:\S+)/.exec(res.stdout)![1]!;
    expect(await replayView(intake, id)).toMatchObject({
      status: 'stopped',
      matched: 40,
      replayed: 1,
      parked: 1,
      notStarted: 39,
    });
    const claimed = await intake.store.query('SELECT id FROM event_archive WHERE replay_id = $1', [id]);
    expect(claimed.rows).toHaveLength(1);
    const revs = await ledgerRevisions(intake, opened);
    expect([...revs.values()].every((r) => r === 3)).toBe(true);
  });

  it('a cancelled replay stops, and replayed + notStarted = matched', async () => {
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });
    const res = await adminPost(intake, '/admin/replay', {
      source: 'mailgun',
      type: 'opened',
      rate: 1,
      reason: 'slow replay, to be cancelled',
    });
    expect(res.status).toBe(202);
    const id = res.json.replay as string;
    const matched = res.json.matched as number;
    expect(matched).toBe(39); // the canary's parked event is not `processed`
    await waitFor(async () => (await replayView(intake, id)).replayed >= 2, 120_000, 'two replayed');
    const cancel = await operatorCli(intake, ['events', 'replays', 'cancel', id]);
    expect(cancel.code).toBe(0);
    const view = await replayClosed(intake, id);
    expect(view.status).toBe('cancelled');
    expect(view.replayed).toBeLessThan(matched);
    expect(view.replayed + view.notStarted).toBe(matched);
    const claimed = await intake.store.query('SELECT id FROM event_archive WHERE replay_id = $1', [id]);
    expect(claimed.rows).toHaveLength(view.replayed);
    expect((await adminPost(intake, `/admin/replays/${encodeURIComponent(id)}/cancel`)).status).toBe(409);
    const list = await operatorCli(intake, ['events', 'replays']);
    expect(list.stdout).toContain(id);
  });

  it('refuses a malformed or non-JSON replay request', async () => {
    for (const bad of [
      { source: 'mailgun' },
      { source: 'mailgun', reason: 'x', status: 'parked' },
      { source: 'mailgun', reason: 'x', since: 'yesterday' },
      { source: 'mailgun', reason: 'x', canary: 'ten' },
      { source: 'mailgun', reason: 'x', dryrun: true },
    ]) {
      const r = await adminPost(intake, '/admin/replay', bad);
      expect({ bad, status: r.status, error: r.json.error }).toEqual({
        bad,
        status: 400,
        error: 'bad_request',
      });
    }
    const form = await fetch(`${intake.url}/admin/replay`, {
      method: 'POST',
      headers: {
        authorization: `Bearer test-admin-token`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'source=mailgun&reason=x',
    });
    expect(form.status).toBe(415);
  });
});

/**
 * Must-show 2: the same after every workflow was deleted (`temporal workflow delete`, as Temporal's
 * retention would): the replay runs from the archive, and a redelivery stays `200 duplicate`.
 */
describe('replay after Temporal deleted the workflows', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      env: { INTAKE_FAILPOINTS: 'mailgun.handler=opened:silent' },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('replays from the archive; a redelivery after the deletion is a duplicate and processes nothing', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const m = messageId();
    const sent = await sendMailgun(intake, [
      [m, 'delivered', 2],
      [m, 'opened', 8],
    ]);
    const opened = sent.filter((s) => s.event === 'opened').map((s) => s.id);
    await allProcessed(
      intake,
      sent.map((s) => s.id),
    );
    for (const s of sent) await deleteWorkflow(intake, s.id);

    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });
    const res = await operatorCli(intake, [
      'events',
      'replay',
      '--source',
      'mailgun',
      '--type',
      'opened',
      '--since',
      since,
      '--reason',
      'after retention',
    ]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('replay completed: 8 replayed, 0 parked, 0 not started of 8 matched');
    await waitRevision(intake, opened, 2);
    const view = await waitFor(async () => {
      const v = await message(intake, m);
      return v.openedCount === 8 ? v : undefined;
    });
    expect(view.events as unknown[]).toHaveLength(10);
    expect(await recordedTimes(intake, opened)).toEqual(opened.map(() => 1));
    // The replay runs are found by the same search attributes as the first runs.
    const found: string[] = [];
    for await (const wf of intake.client.workflow.list({
      query: `IntakeSource = 'mailgun' AND IntakeEventType = 'opened' AND IntakeEntity = '${m}'`,
    }))
      found.push(wf.workflowId);
    expect(found.sort()).toEqual(opened.map((id) => `${id}:r2`).sort());

    const first = sent.find((s) => s.event === 'opened')!;
    const again = await post(intake.url, first.req);
    expect(again).toMatchObject({ status: 200, json: { id: first.id, status: 'duplicate' } });
    await expect(intake.client.workflow.getHandle(first.id).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    expect(await ledgerRevisions(intake, [first.id])).toEqual(new Map([[first.id, 2]]));
    expect((await message(intake, m)).openedCount).toBe(8);
  });
});
