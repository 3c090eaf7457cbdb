import { randomBytes } from 'node:crypto';
import { mailgunExample } from '../../src/sources/mailgun';
import { openStore, type Store } from '../../src/store/store';
import { spawnIntake, type IntakeChild } from '../support/child-process';
import { post, TEST_ADMIN_TOKEN, TEST_MAILGUN_KEY, waitFor } from '../support/harness';
import { freePort } from '../support/ports';
import { createTestDatabase } from '../support/postgres';

const EVENTS = 200;

/** intake_handler_attempts_total{outcome="ok"} from a worker's metrics endpoint (named in its start log). */
async function successfulAttempts(worker: IntakeChild): Promise<number> {
  const started = await worker.waitForLog('intake worker polling');
  const text = await (await fetch(String(started.metrics))).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^intake_handler_attempts_total\{([^}]*)\} (\d+)/.exec(line);
    if (m?.[1]?.includes('outcome="ok"')) total += Number(m[2]);
  }
  return total;
}

describe('scale-out: two API processes and two worker processes on one Temporal and PostgreSQL', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: Store;
  const children: IntakeChild[] = [];
  const apiUrls: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
    const env = {
      TEMPORAL_ADDRESS: process.env.INTAKE_TEST_TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
      INTAKE_TASK_QUEUE: `scale-${randomBytes(6).toString('hex')}`,
      DATABASE_URL: db.url,
      MAILGUN_SIGNING_KEY: TEST_MAILGUN_KEY,
      INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      HOST: '127.0.0.1',
      INTAKE_SHUTDOWN_GRACE_S: '5',
    };
    for (const n of [1, 2]) {
      const port = await freePort();
      children.push(spawnIntake('api', { ...env, PORT: String(port), LOG_LEVEL: 'info' }, `api${n}`));
      apiUrls.push(`http://127.0.0.1:${port}`);
      // Each worker's Prometheus endpoint tells how many handler attempts it ran. The second one has
      // no source secret and no admin token: a worker verifies no signature and serves no HTTP.
      const metricsPort = String(await freePort());
      const { MAILGUN_SIGNING_KEY: _key, INTAKE_ADMIN_TOKEN: _token, ...noSecrets } = env;
      children.push(
        spawnIntake(
          'worker',
          { ...(n === 1 ? env : noSecrets), INTAKE_WORKER_METRICS_PORT: metricsPort, LOG_LEVEL: 'info' },
          `worker${n}`,
        ),
      );
    }
    await Promise.all(
      children.map((c) =>
        c.waitForLog(c.name.startsWith('api') ? 'intake api listening' : 'intake worker polling', 90_000),
      ),
    );
  }, 120_000);

  afterAll(async () => {
    const codes = await Promise.all(children.map((c) => c.stop()));
    // Every process drained and exited cleanly on SIGTERM.
    expect(codes).toEqual(children.map(() => 0));
    await store?.close();
    await db?.drop();
  });

  it('takes 200 events over both APIs; each is processed exactly once and both workers took work', async () => {
    const events = Array.from({ length: EVENTS }, (_, i) =>
      mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: i % 2 ? 'opened' : 'delivered' }),
    );
    const ids = events.map((e) => `mailgun:${JSON.parse(e.body)['event-data'].id as string}`);
    const answers: string[] = [];
    let next = 0;
    const sender = async () => {
      for (let i = next++; i < EVENTS; i = next++) {
        const r = await post(apiUrls[i % 2]!, events[i]!);
        // A delivery retried after a connection reset may find its first attempt accepted.
        const accepted = r.json.status === 'accepted' || (r.json.status === 'duplicate' && r.attempts > 1);
        answers[i] = `${r.status} ${accepted ? 'accepted' : String(r.json.status)}`;
      }
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    expect(answers.filter((a) => a === '200 accepted')).toHaveLength(EVENTS);

    // A redelivery to the other API replica is a duplicate: dedup is Temporal's, not per process.
    for (const i of [0, 1, 2, 3]) {
      const again = await post(apiUrls[(i + 1) % 2]!, events[i]!);
      expect(again.status).toBe(200);
      expect(again.json).toEqual({ id: ids[i], status: 'duplicate' });
    }

    const count = async (sql: string) => Number((await store.query(sql)).rows[0]?.n);
    await waitFor(
      async () => (await count('SELECT count(*)::int AS n FROM processed_events')) >= EVENTS,
      120_000,
      `${EVENTS} processed events`,
    );
    const processed = await store.query<{ id: string }>('SELECT id FROM processed_events');
    expect(processed.rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(await count('SELECT count(*)::int AS n FROM mailgun_events')).toBe(EVENTS);
    expect(await count('SELECT count(DISTINCT event_id)::int AS n FROM mailgun_events')).toBe(EVENTS);

    // Both workers took a share, and together they ran each handler once.
    const shares = await Promise.all(
      children.filter((c) => c.name.startsWith('worker')).map((c) => successfulAttempts(c)),
    );
    for (const share of shares) expect(share).toBeGreaterThan(0);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(EVENTS);
  }, 240_000);
});
