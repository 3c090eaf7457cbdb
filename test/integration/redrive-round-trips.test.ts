import { mailgunExample } from '../../src/sources/mailgun';
import { issueSignature } from '../../src/operations/issue-signature';
import { RedriveService } from '../../src/operations/redrive-service';
import { groupIssues, ParkedEvents, type Issue } from '../../src/operations/parked-events';
import { countingClient } from '../support/counting-client';
import { adminGet, post, startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';
import { createTestNamespace } from '../support/namespace';

const N = 100;

/**
 * Issue 21: a redrive by issue selects its events with one visibility query on IntakeIssue (the
 * issue id each event wrote when it parked), not a status query and a history read per event.
 * The round trips are counted at the client's WorkflowService (every call is one).
 */
describe('a 100-event redrive by issue', () => {
  let intake: Intake;
  const issue = issueSignature('mailgun', 'PermanentProcessingError: failpoint mailgun.permanent').id;
  const count = (q: string) => intake.client.workflow.count(q).then((c) => c.count);

  beforeAll(async () => {
    const namespace = await createTestNamespace(process.env.INTAKE_TEST_TEMPORAL_ADDRESS!);
    intake = await startIntake({
      store: 'postgres',
      env: { INTAKE_FAILPOINTS: 'mailgun.permanent=opened', TEMPORAL_NAMESPACE: namespace },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('parks 100 events, each with its issue id in IntakeIssue', async () => {
    for (let i = 0; i < N; i++) {
      const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'opened' }));
      expect(res.status).toBe(200);
    }
    await waitFor(
      async () => (await count(`IntakeIssue = '${issue}' AND IntakeStatus = 'parked'`)) === N,
      180_000,
      `${N} parked with IntakeIssue`,
    );
    const issues = await new ParkedEvents(intake.client).issues({ source: 'mailgun' });
    expect(issues.map((i) => [i.id, i.count])).toEqual([[issue, N]]);
  });

  // GET /admin/issues (ParkedEvents.issues): before, a status query and a history read per event
  // (ParkedEvents.list, grouped, is still that path); now IntakeIssue and IntakeParkedAt come with
  // the visibility rows, and only one event per issue is asked its last error (the issue's title).
  it('groups them with one visibility query and one status query per issue, to the same issues', async () => {
    const before = countingClient(intake.client);
    const old = groupIssues(await new ParkedEvents(before.client).list({ source: 'mailgun' }));
    const after = countingClient(intake.client);
    const now = await new ParkedEvents(after.client).issues({ source: 'mailgun' });
    process.stdout.write(
      `GET /admin/issues over ${N} parked events, round trips: before ${JSON.stringify(Object.fromEntries(before.calls))}, after ${JSON.stringify(Object.fromEntries(after.calls))}\n`,
    );
    expect(Object.fromEntries(before.calls)).toEqual({
      listWorkflowExecutions: 1,
      queryWorkflow: N,
      getWorkflowExecutionHistoryReverse: N,
    });
    expect(Object.fromEntries(after.calls)).toEqual({ listWorkflowExecutions: 1, queryWorkflow: 1 });

    // The same issue, counts, types and samples; the parking times are the workflow's time at the
    // parking instead of the parking's last history event (after the archive is told), which
    // comes later: from a few milliseconds to a second or two on a busy machine.
    const shape = ({ firstParkedAt: _f, lastParkedAt: _l, ...rest }: Issue) => rest;
    expect(now.map(shape)).toEqual(old.map(shape));
    const gap = (a: string | null, b: string | null) => Date.parse(a ?? '') - Date.parse(b ?? '');
    for (const [o, n] of old.map((o, i) => [o, now[i]!] as const)) {
      for (const d of [gap(o.firstParkedAt, n.firstParkedAt), gap(o.lastParkedAt, n.lastParkedAt)]) {
        // Never later than before (no bound above: how far behind the last event comes is timing).
        expect(d).toBeGreaterThanOrEqual(0);
      }
    }
    process.stdout.write(
      `parking times, last history event minus IntakeParkedAt: first ${gap(old[0]!.firstParkedAt, now[0]!.firstParkedAt)} ms, last ${gap(old[0]!.lastParkedAt, now[0]!.lastParkedAt)} ms\n`,
    );
    const api = await adminGet(intake.url, '/admin/issues?source=mailgun');
    expect(api.status).toBe(200);
    expect(api.json.issues).toEqual(now);
  });

  const redriveCounted = async (canary?: string) => {
    const counted = countingClient(intake.client);
    const started = await new RedriveService(counted.client, intake.config.temporal.taskQueue).start({
      source: 'mailgun',
      issue,
      ...(canary ? { canary } : {}),
    });
    const calls = Object.fromEntries(counted.calls);
    process.stdout.write(
      `redrive by issue of ${N} events${canary ? ` with canary ${canary}` : ''}, round trips: ${JSON.stringify(calls)}\n`,
    );
    return { started, calls };
  };

  it('with a canary, asks each event its attempts (a status query each), and reads no history', async () => {
    const { started, calls } = await redriveCounted('5');
    expect(started).toMatchObject({ matched: N });
    // The page of events with the issue, the (empty) page of events parked before the patch, the
    // attempts of each, the start.
    expect(calls).toEqual({ listWorkflowExecutions: 2, queryWorkflow: N, startWorkflowExecution: 1 });
    // The bug is still there: the canary parks again (same issue) and stops the redrive.
    const redrive = new RedriveService(intake.client, intake.config.temporal.taskQueue);
    const id = 'redrive' in started ? started.redrive : '';
    await waitFor(async () => (await redrive.get(id)).status === 'failed', 120_000, 'canary stopped');
    await waitFor(
      async () => (await count(`IntakeIssue = '${issue}' AND IntakeStatus = 'parked'`)) === N,
      60_000,
      'the canary parked again, with its issue',
    );
  });

  it('without a canary, selects them with one visibility query and starts: no round trip per event', async () => {
    const { started, calls } = await redriveCounted();
    expect(started).toMatchObject({ matched: N });
    expect(calls).toEqual({ listWorkflowExecutions: 2, startWorkflowExecution: 1 });

    // The fix ships: the resumed events are processed, and IntakeIssue is gone from them.
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });
    await waitFor(
      async () => (await count(`IntakeStatus = 'processed'`)) === N,
      180_000,
      `${N} processed after the redrive`,
    );
    expect(await count(`IntakeIssue = '${issue}'`)).toBe(0);
  });
});
