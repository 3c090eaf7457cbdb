import { temporal } from '@temporalio/proto';
import { mailgunExample } from '../../src/sources/mailgun';
import { spawnIntake, type IntakeChild } from '../support/child-process';
import { post, startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const { PendingActivityState, TimeoutType } = temporal.api.enums.v1;

/**
 * Issue 10, item 3: a regular handler attempt that the server has recorded as started but that no
 * live worker runs must not wait for the whole activity timeout (60 s by default). Here worker A
 * (its own process) takes the regular attempt while its store hangs (a paused TCP proxy in front of
 * PostgreSQL), and is killed with SIGKILL mid-attempt; worker B (this process, the store direct)
 * takes over. The heartbeat timeout (2 s here) ends A's attempt, not the start-to-close timeout.
 * And the other side of it: a slow attempt on a live worker heartbeats, so it is not cut off.
 * Budget 3 in the harness: one quick local attempt (failed by a `once` failpoint in worker A, so
 * the event falls back to the regular activity at once), then up to two regular attempts.
 */
describe("regular handler attempts heartbeat: a dead worker's attempt is retried after the heartbeat timeout", () => {
  let intake: Intake;
  let proxy: TcpProxy;
  let workerA: IntakeChild | undefined;

  beforeAll(async () => {
    // API and the later worker B in this process; no worker yet, so worker A takes the event.
    intake = await startIntake({
      store: 'postgres',
      worker: false,
      env: { INTAKE_ACTIVITY_HEARTBEAT_TIMEOUT_MS: '2000' },
    });
    const direct = new URL(intake.config.databaseUrl!);
    proxy = await startTcpProxy(Number(direct.port || 5432));
    const proxied = new URL(direct);
    proxied.port = String(proxy.port);
    workerA = spawnIntake(
      'worker',
      {
        TEMPORAL_ADDRESS: intake.config.temporal.address,
        INTAKE_TASK_QUEUE: intake.config.temporal.taskQueue,
        DATABASE_URL: proxied.toString(),
        MAILGUN_SIGNING_KEY: TEST_MAILGUN_KEY,
        INTAKE_FAILPOINTS: 'mailgun.once=*',
        INTAKE_WORKER_METRICS_PORT: '0',
        LOG_LEVEL: 'info',
      },
      'worker-a',
    );
    await workerA.waitForLog('intake worker polling', 90_000);
  }, 120_000);

  afterAll(async () => {
    if (workerA && workerA.proc.exitCode === null && workerA.proc.signalCode === null) {
      workerA.proc.kill('SIGKILL');
      await workerA.exited;
    }
    await proxy?.close();
    await intake?.stop();
  });

  const send = async () => {
    const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered' }));
    expect(res.status).toBe(200);
    return intake.client.workflow.getHandle(res.json.id as string);
  };
  /** The handler attempt pending on worker A, once it has started. */
  const startedOnA = (handle: ReturnType<typeof intake.client.workflow.getHandle>) =>
    waitFor(
      async () => {
        const p = (await handle.describe()).raw.pendingActivities?.[0];
        return p?.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED && p;
      },
      60_000,
      'the regular attempt started',
    );
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

  it('keeps a slow attempt on a live worker past the heartbeat timeout (the handler heartbeats)', async () => {
    proxy.pause();
    const handle = await send();
    // The server saw a heartbeat of attempt 1 later than the heartbeat timeout after its start
    // (without heartbeats it would have been timed out by then, and attempt 2 would be pending).
    const pending = await waitFor(
      async () => {
        const p = (await handle.describe()).raw.pendingActivities?.[0];
        if (!p || (p.attempt ?? 1) > 1) return p;
        return (
          p.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED &&
          ms(p.lastHeartbeatTime) > ms(p.lastStartedTime) + 2000 &&
          p
        );
      },
      60_000,
      'a heartbeat after the heartbeat timeout',
    );
    expect(pending.attempt).toBe(1);
    proxy.resume();
    const state = (await handle.result()) as { status: string; attempts: number };
    // The quick local attempt (failpoint) and regular attempt 1, which was never cut off.
    expect(state).toMatchObject({ status: 'processed', attempts: 2 });
  }, 90_000);

  it('recovers the attempt by its heartbeat timeout; the event is processed once, attempts counted', async () => {
    // From now on worker A's store hangs: its handler waits on PostgreSQL and never returns.
    proxy.pause();
    const handle = await send();
    const id = handle.workflowId;

    // Worker A holds the regular attempt 1: started, on A, hanging.
    const identityA = `${workerA!.proc.pid}@`;
    const pending = await startedOnA(handle);
    expect(pending.attempt).toBe(1);
    expect(pending.lastWorkerIdentity?.startsWith(identityA)).toBe(true);

    workerA!.proc.kill('SIGKILL');
    await workerA!.exited;
    await intake.startWorker();

    const state = (await handle.result()) as { status: string; attempts: number; lastError: string | null };
    // One quick local attempt, A's lost regular attempt 1, and B's attempt 2 that succeeded.
    expect(state).toMatchObject({ status: 'processed', attempts: 3, lastError: null });

    // The server retries an attempt itself: the history keeps only the last attempt's started
    // event, which carries the attempt number and the failure of the attempt before it.
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(1);
    expect(events.filter((e) => e.activityTaskTimedOutEventAttributes)).toHaveLength(0);
    const completed = events.filter((e) => e.activityTaskCompletedEventAttributes);
    expect(completed).toHaveLength(1);
    const lastStart = events.find(
      (e) => Number(e.eventId) === Number(completed[0]!.activityTaskCompletedEventAttributes!.startedEventId),
    )?.activityTaskStartedEventAttributes;
    // Attempt 2 ran on worker B …
    expect(lastStart?.attempt).toBe(2);
    expect(lastStart?.identity?.startsWith(identityA)).toBe(false);
    // … after the heartbeat timeout ended A's attempt 1, not the 60 s start-to-close timeout.
    expect(lastStart?.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(TimeoutType.TIMEOUT_TYPE_HEARTBEAT);

    // Exactly once in the ledger: A's hanging attempt never reached PostgreSQL.
    const n = async (sql: string) => Number((await intake.store.query(sql, [id])).rows[0]?.n);
    expect(await n('SELECT count(*)::int AS n FROM processed_events WHERE id = $1')).toBe(1);
    expect(await n(`SELECT count(*)::int AS n FROM mailgun_events WHERE 'mailgun:' || event_id = $1`)).toBe(
      1,
    );
  }, 150_000);
});
