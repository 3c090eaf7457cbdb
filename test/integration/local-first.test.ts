import { temporal } from '@temporalio/proto';
import type { EventView } from '../../src/operations/event-service';
import { mailgunExample } from '../../src/sources/mailgun';
import { adminGet, post, startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';

const { EventType } = temporal.api.enums.v1;

/**
 * Issue 10: the happy path costs one workflow task (the handler as a local activity, the status
 * search attribute written once); a failed quick attempt falls back to the regular activity under
 * the retry policy; a permanent error parks without spending the budget. Budget 3 in the harness:
 * one quick local attempt, then up to two regular ones.
 */
describe('local-first processing on the real Temporal dev server and PostgreSQL', () => {
  let intake: Intake;

  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      env: {
        // Retries 1.5 s apart, so the pending activity between two attempts can be observed.
        INTAKE_RETRY_INITIAL_INTERVAL_MS: '1500',
        INTAKE_RETRY_MAX_INTERVAL_MS: '1500',
        INTAKE_FAILPOINTS: 'mailgun.once=opened,mailgun.permanent=clicked,mailgun.handler=complained',
      },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const send = async (event: string): Promise<string> => {
    const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event }));
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('accepted');
    return res.json.id as string;
  };
  const waitStatus = (id: string, status: string) =>
    waitFor(
      async () => {
        const r = await adminGet(intake.url, `/events/${encodeURIComponent(id)}`);
        return r.json.status === status ? (r.json as unknown as EventView) : undefined;
      },
      60_000,
      `${id} ${status}`,
    );
  const history = async (id: string) =>
    (await intake.client.workflow.getHandle(id).fetchHistory()).events ?? [];
  const historyTypes = async (id: string) => (await history(id)).map((e) => e.eventType);
  /** Upserts that write IntakeStatus (the patch marker also upserts TemporalChangeVersion). */
  const statusWrites = async (id: string) =>
    (await history(id)).filter(
      (e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.IntakeStatus,
    ).length;
  const count = (types: (temporal.api.enums.v1.EventType | null | undefined)[], t: number) =>
    types.filter((x) => x === t).length;
  const ledgerRows = async (id: string) =>
    Number(
      (await intake.store.query('SELECT count(*)::int AS n FROM processed_events WHERE id = $1', [id]))
        .rows[0]?.n,
    );

  it('processes a healthy event in one workflow task, with one status write', async () => {
    const id = await send('delivered');
    const v = await waitStatus(id, 'processed');
    expect(v).toMatchObject({ attempts: 1, lastError: null });
    const types = await historyTypes(id);
    expect(count(types, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)).toBe(1);
    expect(count(types, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toBe(0);
    expect(await statusWrites(id)).toBe(1);
    // Started, the task (scheduled, started, completed), the typed-handler-activity patch marker and
    // its TemporalChangeVersion upsert (docs/workflow-changes.md: the price of that patch until it is
    // retired), the local activity's marker, the status upsert, completed: no local-activity-first
    // marker (local-first is asked for in the input).
    expect(types).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
      EventType.EVENT_TYPE_MARKER_RECORDED,
      EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
      EventType.EVENT_TYPE_MARKER_RECORDED,
      EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    ]);
    const desc = await intake.client.workflow.getHandle(id).describe();
    expect(desc.searchAttributes.IntakeStatus).toEqual(['processed']);
    expect(await ledgerRows(id)).toBe(1);
  });

  it('falls back to the regular activity when the quick attempt fails, and counts both attempts', async () => {
    const id = await send('opened');
    const v = await waitStatus(id, 'processed');
    expect(v).toMatchObject({ attempts: 2, lastError: null });
    const types = await historyTypes(id);
    expect(count(types, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toBe(1);
    expect(count(types, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)).toBe(1);
    expect(await ledgerRows(id)).toBe(1);
  });

  it('shows a failing handler as a pending activity with its attempt and last failure, then parks', async () => {
    const id = await send('complained');
    const handle = intake.client.workflow.getHandle(id);
    const pending = await waitFor(
      async () => {
        const p = (await handle.describe()).raw.pendingActivities?.[0];
        return p && (p.attempt ?? 0) >= 2 && p.lastFailure ? p : undefined;
      },
      30_000,
      'pending activity after a failed attempt',
    );
    expect(pending.lastFailure?.message).toMatch(/failpoint mailgun\.handler/);
    const v = await waitStatus(id, 'parked');
    // Budget 3 per round, counted across the quick attempt and the regular ones.
    expect(v.attempts).toBe(3);
    expect(v.lastError).toMatch(/failpoint mailgun\.handler/);
  });

  it('parks a permanent failure after one attempt, without the regular activity, and resumes it', async () => {
    const id = await send('clicked');
    const v = await waitStatus(id, 'parked');
    expect(v.attempts).toBe(1);
    expect(v.lastError).toMatch(/^PermanentProcessingError: failpoint mailgun\.permanent/);
    expect(count(await historyTypes(id), EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toBe(0);
    await waitFor(
      async () =>
        (await intake.client.workflow.getHandle(id).describe()).searchAttributes.IntakeStatus?.[0] ===
        'parked',
      30_000,
      'IntakeStatus parked',
    );

    // The fix ships: one command resumes it.
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });
    await intake.events.retry(id);
    const done = await waitStatus(id, 'processed');
    expect(done).toMatchObject({ attempts: 2, lastError: null });
    expect(await ledgerRows(id)).toBe(1);
  });
});
