import { mailgunExample } from '../../src/sources/mailgun';
import type { Issue, ParkedEvent } from '../../src/operations/parked-events';
import type { RedriveView } from '../../src/operations/redrive-service';
import { intakeCli } from '../support/cli';
import {
  adminGet,
  post,
  startIntake,
  TEST_ADMIN_TOKEN,
  TEST_MAILGUN_KEY,
  waitFor,
  type Intake,
} from '../support/harness';
import { createTestNamespace } from '../support/namespace';
import { ParkedEvents } from '../../src/operations/parked-events';

const PER_TYPE = 15;

/**
 * Issue 14's operator story on the real dev server and PostgreSQL: a bug parks 30 events under two
 * error signatures; issues groups them; a dry run changes nothing; a canary stops while the bug is
 * there; cancelling leaves the rest parked; after the fix the canary then the rest are processed once.
 */
describe('issues and the redriveParked workflow', () => {
  let intake: Intake;
  let parked: ParkedEvents;

  beforeAll(async () => {
    const namespace = await createTestNamespace(process.env.INTAKE_TEST_TEMPORAL_ADDRESS!);
    intake = await startIntake({
      store: 'postgres',
      env: {
        // Two bugs: `opened` fails until the retry budget is spent, `clicked` fails permanently.
        INTAKE_FAILPOINTS: 'mailgun.handler=opened,mailgun.permanent=clicked',
        TEMPORAL_NAMESPACE: namespace,
      },
    });
    parked = new ParkedEvents(intake.client);
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const adminPost = async (path: string, body?: unknown) => {
    const res = await fetch(intake.url + path, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const byId = async (): Promise<Map<string, ParkedEvent>> =>
    new Map((await parked.list({ source: 'mailgun' })).map((e) => [e.id, e]));
  const redrive = async (id: string) =>
    (await adminGet(intake.url, `/admin/redrives/${encodeURIComponent(id)}`)).json as unknown as RedriveView;
  const count = async (sql: string) => Number((await intake.store.query(sql)).rows[0]?.n);

  const opened: string[] = [];
  const clicked: string[] = [];
  let openedIssue: Issue;
  let clickedIssue: Issue;

  it('groups the parked events by error signature: GET /admin/issues and `events issues --json`', async () => {
    for (let i = 0; i < PER_TYPE; i++) {
      for (const [event, ids] of [
        ['opened', opened],
        ['clicked', clicked],
      ] as const) {
        const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event }));
        expect(res.status).toBe(200);
        ids.push(res.json.id as string);
      }
    }
    await waitFor(async () => (await byId()).size === 2 * PER_TYPE, 90_000, '30 parked');

    const res = await adminGet(intake.url, '/admin/issues?source=mailgun');
    expect(res.status).toBe(200);
    const issues = res.json.issues as Issue[];
    expect(issues).toHaveLength(2);
    openedIssue = issues.find((i) => i.eventTypes.includes('opened'))!;
    clickedIssue = issues.find((i) => i.eventTypes.includes('clicked'))!;
    expect(openedIssue).toMatchObject({
      source: 'mailgun',
      errorType: 'Error',
      message: 'failpoint mailgun.handler',
      signature: 'mailgun Error: failpoint mailgun.handler',
      count: PER_TYPE,
      eventTypes: ['opened'],
    });
    expect(clickedIssue).toMatchObject({
      errorType: 'PermanentProcessingError',
      count: PER_TYPE,
      eventTypes: ['clicked'],
    });
    for (const i of issues) {
      expect(i.id).toMatch(/^[0-9a-f]{12}$/);
      expect(i.sampleIds).toHaveLength(5);
      expect(i.firstParkedAt! <= i.lastParkedAt!).toBe(true);
    }
    expect(openedIssue.sampleIds.every((id) => opened.includes(id))).toBe(true);

    const cli = await intakeCli(intake.config, ['events', 'issues', '--source', 'mailgun', '--json']);
    expect(cli.code).toBe(0);
    const fromCli = JSON.parse(cli.stdout) as Issue[];
    expect(fromCli.map((i) => [i.id, i.count]).sort()).toEqual(issues.map((i) => [i.id, i.count]).sort());
  });

  it('a dry run counts by issue and changes nothing', async () => {
    const before = await byId();
    const res = await adminPost('/admin/retry-parked?source=mailgun&dryRun=true');
    expect(res.status).toBe(200);
    expect(res.json.matched).toBe(2 * PER_TYPE);
    expect((res.json.issues as Issue[]).map((i) => i.count)).toEqual([PER_TYPE, PER_TYPE]);
    expect(res.json.redrive).toBeUndefined();
    // The CLI's spelling is a dry run too.
    const dashed = await adminPost('/admin/retry-parked?source=mailgun&dry-run=true');
    expect(dashed.status).toBe(200);
    expect(dashed.json.redrive).toBeUndefined();
    expect(dashed.json.matched).toBe(2 * PER_TYPE);

    const cli = await intakeCli(intake.config, [
      'events',
      'retry',
      '--parked',
      '--issue',
      openedIssue.id,
      '--dry-run',
    ]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`dry run: matched ${PER_TYPE} parked event\\(s\\) with issue`));
    expect(cli.stdout).toContain(`${openedIssue.id}     15  mailgun Error: failpoint mailgun.handler`);
    const after = await byId();
    expect([...after.values()].map((e) => [e.id, e.attempts]).sort()).toEqual(
      [...before.values()].map((e) => [e.id, e.attempts]).sort(),
    );
    expect((await intakeCli(intake.config, ['events', 'redrives'])).stdout).toMatch(/no redrives/);
    for (const bad of [
      { canary: 'ten' },
      { canary: '0' },
      { canary: '120%' },
      { rate: -1 },
      { issue: 'x' },
      // A misspelt dry run must not start a real redrive.
      { source: 'mailgun', dryrun: 'true' },
    ]) {
      const r = await adminPost('/admin/retry-parked', bad);
      expect({ bad, status: r.status, error: r.json.error }).toEqual({
        bad,
        status: 400,
        error: 'bad_request',
      });
    }
  });

  it('a canary with the bug still there resumes only the sample and stops with the signature', async () => {
    const cli = await intakeCli(intake.config, [
      'events',
      'retry',
      '--parked',
      '--issue',
      openedIssue.id,
      '--canary',
      '3',
    ]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/canary failed, redrive stopped: 3 of 3 canary event\(s\) did not process/);
    expect(cli.stdout).toContain('mailgun Error: failpoint mailgun.handler');
    expect(cli.stdout).toContain(`the other ${PER_TYPE - 3} stay parked`);
    const id = /redrive (redrive:\S+)/.exec(cli.stdout)![1]!;
    const view = await redrive(id);
    // Issue 19: a stopped redrive is a failed workflow (red in the Web UI), not a green `completed`.
    expect(view).toMatchObject({ status: 'failed', phase: 'stopped', matched: PER_TYPE, sample: 3 });
    expect(view.failure).toMatch(/^redrive stopped by its canary: 3 of 3 canary event\(s\) did not process/);
    expect(cli.stdout).toContain('(workflow failed)');
    const described = await intake.client.workflow.getHandle(id).describe();
    expect(described.status.name).toBe('FAILED');
    const listed = (await intakeCli(intake.config, ['events', 'redrives'])).stdout.split('\n');
    expect(listed.find((l) => l.endsWith(id))).toMatch(/^failed /);
    expect(view.parkedAgain!.map((p) => p.issue)).toEqual([openedIssue.id, openedIssue.id, openedIssue.id]);

    const now = await byId();
    const resumed = opened.filter((e) => now.get(e)!.attempts === 6);
    expect(resumed.sort()).toEqual(view.parkedAgain!.map((p) => p.id).sort());
    expect(opened.filter((e) => now.get(e)!.attempts === 3)).toHaveLength(PER_TYPE - 3);
    expect(clicked.every((e) => now.get(e)!.attempts === 1)).toBe(true);
  });

  it('cancelling a redrive mid-way leaves the events not yet signalled parked', async () => {
    // Slow enough that the cancel (a CLI process, which took more than 13 s to start at load 30)
    // comes mid-way: 15 events at 0.5/s leave 30 s.
    const res = await adminPost('/admin/retry-parked', { issue: clickedIssue.id, rate: 0.5 });
    expect(res.status).toBe(202);
    expect(res.json.matched).toBe(PER_TYPE);
    const id = res.json.redrive as string;
    expect(id).toMatch(/^redrive:/);
    await waitFor(async () => ((await redrive(id)).signalled ?? 0) >= 2, 30_000, 'two signals');
    const cancel = await intakeCli(intake.config, ['events', 'redrives', 'cancel', id]);
    expect(cancel.code).toBe(0);
    const view = await waitFor(async () => {
      const v = await redrive(id);
      return v.status === 'cancelled' ? v : undefined;
    });
    expect(view.phase).toBe('cancelled');
    const sent = view.signalled!;
    expect(sent).toBeLessThan(PER_TYPE);
    // The resumed ones park again at once (the permanent bug is still there); the rest are untouched.
    const now = await waitFor(async () => {
      const m = await byId();
      return clicked.every((e) => m.get(e)) ? m : undefined;
    });
    const resumed = clicked.filter((e) => now.get(e)!.attempts === 2).length;
    expect(resumed).toBeGreaterThanOrEqual(sent);
    expect(resumed).toBeLessThanOrEqual(sent + 1); // a signal in flight when the cancel came
    expect(clicked.filter((e) => now.get(e)!.attempts === 1)).toHaveLength(PER_TYPE - resumed);
    expect((await adminPost(`/admin/redrives/${encodeURIComponent(id)}/cancel`)).status).toBe(409);
  });

  it('after the fix the canary and then the rest are processed, each exactly once', async () => {
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });
    const res = await adminPost('/admin/retry-parked', { source: 'mailgun', canary: '10%' });
    expect(res).toMatchObject({ status: 202, json: { matched: 2 * PER_TYPE } });
    const id = res.json.redrive as string;
    const view = await waitFor(
      async () => {
        const v = await redrive(id);
        return v.status !== 'running' ? v : undefined;
      },
      90_000,
      'redrive closed',
    );
    expect(view).toMatchObject({
      status: 'completed',
      phase: 'done',
      sample: 3,
      canaryProcessed: 3,
      signalled: 2 * PER_TYPE,
      parkedAgain: [],
    });
    for (const e of [...opened, ...clicked]) {
      await waitFor(
        async () => (await intake.events.get(e)).status === 'processed',
        60_000,
        `${e} processed`,
      );
    }
    expect(await count('SELECT count(*)::int AS n FROM mailgun_events')).toBe(2 * PER_TYPE);
    expect(await count('SELECT count(DISTINCT event_id)::int AS n FROM mailgun_events')).toBe(2 * PER_TYPE);
    expect(await count(`SELECT count(*)::int AS n FROM processed_events WHERE source = 'mailgun'`)).toBe(
      2 * PER_TYPE,
    );
    const show = await intakeCli(intake.config, ['events', 'redrives', 'show', id]);
    expect(JSON.parse(show.stdout)).toMatchObject({ id, phase: 'done', matched: 2 * PER_TYPE });
  });
});
