import { mailgunExample } from '../../src/sources/mailgun';
import type { EventView } from '../../src/operations/event-service';
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

const TYPES = ['delivered', 'opened', 'clicked'] as const;

/** The fix-and-resume story of issue 4: a bug parks events, the fix ships, one command resumes them. */
describe('fix and resume on the real Temporal dev server and PostgreSQL', () => {
  let intake: Intake;

  beforeAll(async () => {
    // Own namespace: "every parked mailgun event" must mean this file's events only.
    const namespace = await createTestNamespace(process.env.INTAKE_TEST_TEMPORAL_ADDRESS!);
    intake = await startIntake({
      store: 'postgres',
      env: { INTAKE_FAILPOINTS: 'mailgun.handler=opened', TEMPORAL_NAMESPACE: namespace },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const view = async (id: string): Promise<EventView> => {
    const r = await adminGet(intake.url, `/events/${encodeURIComponent(id)}`);
    if (r.status !== 200) throw new Error(`GET /events/${id} answered ${r.status}`);
    return r.json as unknown as EventView;
  };
  const waitStatus = (id: string, status: string) =>
    waitFor(
      async () => ((await view(id)).status === status ? view(id) : undefined),
      60_000,
      `${id} ${status}`,
    );
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
  const count = async (sql: string) => Number((await intake.store.query(sql)).rows[0]?.n);
  const send = async (event: string): Promise<string> => {
    const req = mailgunExample({ signingKey: TEST_MAILGUN_KEY, event });
    const res = await post(intake.url, req);
    expect(res.status).toBe(200);
    return res.json.id as string;
  };
  const parkedIds = async () =>
    (await intake.events.list({ status: 'parked', source: 'mailgun' })).map((e) => e.id).sort();

  const all: { id: string; type: string }[] = [];
  let processedId = '';

  it('parks the events the bug hits after the retry budget and processes the rest', async () => {
    for (let i = 0; i < 30; i++) {
      const type = TYPES[i % 3]!;
      all.push({ id: await send(type), type });
    }
    const opened = all.filter((e) => e.type === 'opened');
    expect(opened).toHaveLength(10);

    for (const e of all) {
      const v = await waitStatus(e.id, e.type === 'opened' ? 'parked' : 'processed');
      if (e.type === 'opened') {
        expect(v.attempts).toBe(3);
        expect(v.lastError).toMatch(/failpoint mailgun\.handler/);
        expect(v.processedAt).toBeNull();
      } else {
        expect(v.attempts).toBe(1);
        expect(v.lastError).toBeNull();
      }
    }
    processedId = all.find((e) => e.type === 'delivered')!.id;
    expect(await count('SELECT count(*)::int AS n FROM mailgun_events')).toBe(20);
    expect(await count(`SELECT count(*)::int AS n FROM mailgun_events WHERE event = 'opened'`)).toBe(0);
    // Visibility trails the workflow a little: wait until the list shows all of them parked.
    const expected = opened.map((e) => e.id).sort();
    await waitFor(
      async () => JSON.stringify(await parkedIds()) === JSON.stringify(expected),
      30_000,
      'parked list',
    );
  });

  it('resumes every parked event with one `intake events retry --parked --source mailgun` after the fix', async () => {
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });

    const out = await intakeCli(intake.config, ['events', 'retry', '--parked', '--source', 'mailgun']);
    expect(out.stderr).not.toMatch(/intake:/);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/matched 10 parked event\(s\) of mailgun/);

    for (const e of all) {
      const v = await waitStatus(e.id, 'processed');
      // The opened ones: three failed attempts, then one good one with the fresh budget.
      expect(v.attempts).toBe(e.type === 'opened' ? 4 : 1);
      expect(v.lastError).toBeNull();
    }
    expect(await count('SELECT count(*)::int AS n FROM mailgun_events')).toBe(30);
    expect(await count('SELECT count(DISTINCT event_id)::int AS n FROM mailgun_events')).toBe(30);
    expect(await count(`SELECT count(*)::int AS n FROM mailgun_events WHERE event = 'opened'`)).toBe(10);
    expect(await count(`SELECT count(*)::int AS n FROM processed_events WHERE source = 'mailgun'`)).toBe(30);
    const ids = (await intake.store.query('SELECT id FROM processed_events ORDER BY id')).rows.map((r) =>
      String(r.id),
    );
    expect(ids).toEqual(all.map((e) => e.id).sort());
    await waitFor(async () => (await parkedIds()).length === 0, 30_000, 'no parked events');
  });

  it('answers 409 to retry and discard of a processed event, 404 for an unknown one', async () => {
    const enc = encodeURIComponent(processedId);
    expect(await adminPost(`/events/${enc}/retry`)).toMatchObject({
      status: 409,
      json: { error: 'not_parked' },
    });
    expect((await adminPost(`/events/${enc}/discard`, { reason: 'x' })).status).toBe(409);
    expect((await adminPost('/events/mailgun:no-such-event/retry')).status).toBe(404);
    expect((await adminPost('/events/mailgun:no-such-event/discard')).status).toBe(404);
    expect((await view(processedId)).status).toBe('processed');
  });

  let discardedId = '';
  let permanentId = '';

  it('parks a permanent failure after exactly one attempt', async () => {
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: 'mailgun.permanent=clicked' });
    discardedId = await send('clicked');
    permanentId = await send('clicked');
    for (const id of [discardedId, permanentId]) {
      const v = await waitStatus(id, 'parked');
      expect(v.attempts).toBe(1);
      expect(v.lastError).toMatch(/^PermanentProcessingError: failpoint mailgun\.permanent/);
    }
  });

  it('discards a parked event with the reason, and refuses a second discard with 409', async () => {
    const enc = encodeURIComponent(discardedId);
    const res = await adminPost(`/events/${enc}/discard`, { reason: 'customer asked to drop it' });
    expect(res).toEqual({ status: 202, json: { id: discardedId, action: 'discard' } });
    const v = await waitStatus(discardedId, 'discarded');
    expect(v).toMatchObject({ attempts: 1, discardReason: 'customer asked to drop it' });
    expect((await adminPost(`/events/${enc}/discard`)).status).toBe(409);
    expect((await adminPost(`/events/${enc}/retry`)).status).toBe(409);
  });

  it('shows events through the real CLI: `events show ID` and `events list --status parked --json`', async () => {
    const show = await intakeCli(intake.config, ['events', 'show', permanentId]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      id: permanentId,
      source: 'mailgun',
      eventType: 'clicked',
      status: 'parked',
      attempts: 1,
      processedAt: null,
    });
    await waitFor(
      async () => JSON.stringify(await parkedIds()) === JSON.stringify([permanentId]),
      30_000,
      'one parked',
    );
    const list = await intakeCli(intake.config, ['events', 'list', '--status', 'parked', '--json']);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as Record<string, unknown>[];
    expect(rows).toEqual([
      expect.objectContaining({ id: permanentId, source: 'mailgun', eventType: 'clicked', status: 'parked' }),
    ]);
    const unknown = await intakeCli(intake.config, ['events', 'show', 'mailgun:no-such-event']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown event/);
  });

  it('resumes through POST /admin/retry-parked?source=mailgun once the fix is deployed', async () => {
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });
    const res = await adminPost('/admin/retry-parked?source=mailgun');
    expect(res).toEqual({
      status: 202,
      json: { matched: 1, redrive: expect.stringMatching(/^redrive:mailgun:/) },
    });
    const v = await waitStatus(permanentId, 'processed');
    expect(v.attempts).toBe(2);
    expect((await view(discardedId)).status).toBe('discarded');
    expect(await count('SELECT count(*)::int AS n FROM mailgun_events')).toBe(31);
    expect(await count('SELECT count(*)::int AS n FROM processed_events')).toBe(31);
    const discardedEventId = discardedId.slice('mailgun:'.length);
    expect(
      Number(
        (
          await intake.store.query('SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = $1', [
            discardedEventId,
          ])
        ).rows[0]?.n,
      ),
    ).toBe(0);
  });
});
