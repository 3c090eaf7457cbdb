import { spawnIntake, type IntakeChild } from '../support/child-process';
import { startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';
import { freePort } from '../support/ports';
import { adminPost, messageId, replayClosed, replayView, sendMailgun, waitRevision } from '../support/replay';

// Each step drives real processes (CLI, dev server, workers) on a busy 2-core host.
jest.setTimeout(900_000);

/**
 * Events replayed. Issue 20 asks for 500: run it with INTAKE_TEST_REPLAY_EVENTS=500 (its figures are
 * in RELIABILITY.md, "A replay under kill -9"); the suite's default is 120 so that CI on a busy
 * 2-core box stays within its time, with the same kill point (the first batch claimed).
 */
const EVENTS = Number(process.env.INTAKE_TEST_REPLAY_EVENTS ?? 120);

/**
 * Issue 20, must-show 5: the worker running a replay is killed with SIGKILL mid-way; another worker
 * takes the replayEvents workflow over. Every event is replayed exactly once: the ledger and the
 * archive show revision 2 for each, each is recorded once, and the counts add up.
 */
describe('a replay survives kill -9 of its worker', () => {
  let intake: Intake;
  const workers: IntakeChild[] = [];

  const spawnWorker = async (name: string) => {
    const child = spawnIntake(
      'worker',
      {
        TEMPORAL_ADDRESS: intake.config.temporal.address,
        INTAKE_TASK_QUEUE: intake.config.temporal.taskQueue,
        DATABASE_URL: intake.config.databaseUrl!,
        MAILGUN_SIGNING_KEY: TEST_MAILGUN_KEY,
        INTAKE_WORKER_METRICS_PORT: String(await freePort()),
        INTAKE_SHUTDOWN_GRACE_S: '1',
        LOG_LEVEL: 'info',
      },
      name,
    );
    workers.push(child);
    await child.waitForLog('intake worker polling', 120_000);
    return child;
  };

  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres', worker: false });
  });
  afterAll(async () => {
    for (const w of workers) await w.stop('SIGKILL');
    await intake?.stop();
  });

  it(`replays ${EVENTS} events exactly once although the worker was killed mid-replay`, async () => {
    const first = await spawnWorker('worker1');
    const m = messageId();
    const sent = await sendMailgun(intake, [[m, 'opened', EVENTS]]);
    const ids = sent.map((s) => s.id);
    await waitRevision(intake, ids, 1, 600_000);

    const res = await adminPost(intake, '/admin/replay', { source: 'mailgun', reason: 'crash drill' });
    expect(res).toMatchObject({ status: 202, json: { matched: EVENTS } });
    const id = res.json.replay as string;
    // Killed as soon as the first batch is claimed: in the middle of starting its runs.
    await waitFor(
      async () =>
        ((
          await intake.store.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM event_archive WHERE replay_id = $1',
            [id],
          )
        ).rows[0]?.n ?? 0) > 0,
      600_000,
      'the first batch claimed',
    );
    first.proc.kill('SIGKILL');
    expect((await replayView(intake, id)).replayed).toBeLessThan(EVENTS);
    await first.exited;

    await spawnWorker('worker2');
    const view = await replayClosed(intake, id, 900_000);
    expect(view).toMatchObject({
      status: 'completed',
      matched: EVENTS,
      replayed: EVENTS,
      notStarted: 0,
      parked: 0,
    });
    await waitRevision(intake, ids, 2, 600_000);
    const took = await intake.store.query<{ s: number }>(
      'SELECT extract(epoch FROM finished_at - created_at)::float AS s FROM replays WHERE id = $1',
      [id],
    );
    // The figure RELIABILITY.md quotes (not asserted: the machine's load decides it).
    process.stdout.write(`replay of ${EVENTS} events across kill -9: ${took.rows[0]?.s.toFixed(1)} s\n`);
    const archive = await intake.store.query<{ revision: number; n: number }>(
      'SELECT revision, count(*)::int AS n FROM event_archive WHERE id = ANY($1) GROUP BY revision',
      [ids],
    );
    expect(archive.rows).toEqual([{ revision: 2, n: EVENTS }]);
    const recorded = await intake.store.query<{ n: number; d: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM mailgun_events WHERE message_id = $1',
      [m],
    );
    expect(recorded.rows[0]).toEqual({ n: EVENTS, d: EVENTS });
    const msg = await intake.store.query('SELECT opened_count FROM mailgun_messages WHERE message_id = $1', [
      m,
    ]);
    expect(msg.rows[0]?.opened_count).toBe(EVENTS);
  });
});
