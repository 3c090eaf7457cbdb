import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SpoolWriter } from '../../src/ingest/spool-writer';
import { InvalidSignatureError } from '../../src/errors';
import { StartSpool } from '../../src/store/start-spool';
import { spooledStartOf } from '../support/spooled-start';
import { openStore, type Queryable, type Store } from '../../src/store/store';
import { bindMailgunTokens } from '../../src/store/token-bindings-repo';
import { startDevServer, type DevServer } from '../../src/dev/dev-server';
import { startIntake, waitFor, type Intake } from '../support/harness';
import { createTestDatabase } from '../support/postgres';
import { freePort } from '../support/ports';
import { mailgunRequest, send } from '../support/requests';

const binary = () => process.env.INTAKE_TEST_TEMPORAL_CLI ?? process.env.TEMPORAL_CLI_PATH ?? 'temporal';
const BURST = 200;

const count = async (store: Store, sql: string, values: unknown[] = []) =>
  (await store.query<{ n: number }>(sql, values)).rows[0]!.n;

/**
 * Issue 13, bursts: while the spool takes every new event, events arriving together share one
 * transaction (group commit), and the token binding is written once, with the spooled row, instead
 * of a standalone commit first. Real PostgreSQL; Temporal is stopped so the API spools.
 */
/**
 * Records the token-binding INSERTs sent straight to the pool, i.e. outside a spool transaction
 * (those run on a client checked out by store.tx). The queries still run.
 */
function watchStandaloneBindings(intake: Intake) {
  const standalone: string[] = [];
  const poolQuery = intake.store.pool.query.bind(intake.store.pool);
  const spy = jest.spyOn(intake.store.pool, 'query').mockImplementation(((
    text: unknown,
    ...rest: unknown[]
  ) => {
    if (typeof text === 'string' && text.includes('INSERT INTO mailgun_tokens')) standalone.push(text);
    return (poolQuery as (...a: unknown[]) => unknown)(text, ...rest);
  }) as never);
  return { standalone, spy };
}

describe('group commit of the start spool (PostgreSQL)', () => {
  let dir: string;
  let address: string;
  let server: DevServer | undefined;
  let intake: Intake;
  const startServer = async () => {
    server = await startDevServer({
      binary: binary(),
      address,
      dataDir: dir,
      headless: true,
      env: process.env,
    });
  };
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-test-group-commit-'));
    address = `127.0.0.1:${await freePort()}`;
    await startServer();
    intake = await startIntake({ store: 'postgres', worker: false, temporalAddress: address });
  });
  afterAll(async () => {
    await intake?.stop();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges a burst from a few shared transactions, each binding committed with its row', async () => {
    await server?.stop();
    server = undefined;
    // The first event finds Temporal down; from then on the API spools without trying it.
    const first = mailgunRequest();
    expect((await send(intake.url, first)).status).toBe(200);

    const { standalone, spy } = watchStandaloneBindings(intake);
    const events = Array.from({ length: BURST }, () => mailgunRequest());
    // A redelivery in the same burst, and a token replayed for another event id.
    const redelivered = events[7]!;
    const replay = mailgunRequest({ token: events[11]!.token });
    let answers;
    try {
      answers = await Promise.all([...events, redelivered, replay].map((e) => send(intake.url, e)));
    } finally {
      spy.mockRestore();
    }
    const ids = events.map((e) => `mailgun:${e.eventId}`);
    expect(answers.slice(0, BURST).map((a) => a.status)).toEqual(events.map(() => 200));
    expect(answers.slice(0, BURST).map((a) => a.json)).toEqual(ids.map((id) => ({ id, status: 'accepted' })));
    // Whichever of the two copies of event 7 committed first is accepted, the other one is a duplicate.
    expect(answers[BURST]!.status).toBe(200);
    expect(answers[BURST]!.json).toMatchObject({ id: ids[7], status: 'duplicate' });
    expect(answers[BURST + 1]!.status).toBe(new InvalidSignatureError('').status);
    expect(
      await count(intake.store, 'SELECT count(*)::int AS n FROM start_spool WHERE workflow_id = $1', [
        `mailgun:${replay.eventId}`,
      ]),
    ).toBe(0);

    // No binding was committed on its own while spooling: each one is in its row's transaction
    // (events 7 and 11 are left out: the redelivery and the replay rewrote their token rows).
    expect(standalone).toEqual([]);
    const untouched = ids.filter((_, i) => i !== 7 && i !== 11);
    expect(
      await count(
        intake.store,
        `SELECT count(*)::int AS n FROM start_spool s JOIN mailgun_tokens t
           ON t.event_id = substr(s.workflow_id, 9) AND t.xmin = s.xmin
         WHERE s.workflow_id = ANY($1)`,
        [untouched],
      ),
    ).toBe(untouched.length);
    // One transaction per event before; shared transactions now.
    const transactions = await count(
      intake.store,
      'SELECT count(DISTINCT xmin::text)::int AS n FROM start_spool WHERE workflow_id = ANY($1)',
      [ids],
    );
    expect(transactions).toBeLessThanOrEqual(BURST / 2);
    expect(await count(intake.store, 'SELECT count(*)::int AS n FROM start_spool')).toBe(BURST + 1);

    // Temporal back: the relay starts every spooled event once.
    await startServer();
    await waitFor(
      async () => (await count(intake.store, 'SELECT count(*)::int AS n FROM start_spool')) === 0,
      120_000,
      'the spool to be relayed',
    );
    const missing: string[] = [];
    for (const id of [`mailgun:${first.eventId}`, ...ids]) {
      const d = await intake.client.workflow.getHandle(id).describe();
      if (d.workflowId !== id) missing.push(id);
    }
    expect(missing).toEqual([]);
  });
});

describe('a burst past the start limiter (PostgreSQL, Temporal up)', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      worker: false,
      env: { INTAKE_MAX_INFLIGHT_STARTS: '2' },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('spools what finds the limiter full before writing anything else of it', async () => {
    const { standalone, spy } = watchStandaloneBindings(intake);
    const events = Array.from({ length: 100 }, () => mailgunRequest());
    let answers;
    try {
      answers = await Promise.all(events.map((e) => send(intake.url, e)));
    } finally {
      spy.mockRestore();
    }
    expect(answers.map((a) => a.status)).toEqual(events.map(() => 200));
    // Only events holding one of the 2 limiter slots were bound on their own (to be started
    // directly); before, every request read before the first spooled one was (about all 100).
    expect(standalone.length).toBeLessThanOrEqual(10);
    // Every event is started once, directly or by the relay.
    const ids = events.map((e) => `mailgun:${e.eventId}`);
    await waitFor(
      async () => (await count(intake.store, 'SELECT count(*)::int AS n FROM start_spool')) === 0,
      120_000,
      'the spool to be relayed',
    );
    const missing: string[] = [];
    for (const id of ids) {
      const d = await intake.client.workflow.getHandle(id).describe();
      if (d.workflowId !== id) missing.push(id);
    }
    expect(missing).toEqual([]);
  });
});

describe('SpoolWriter on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  let spool: StartSpool;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await openStore({ databaseUrl: db.url, dataDir: os.tmpdir() });
    spool = new StartSpool(store);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  const startOf = spooledStartOf;

  /** Spools `ids` at once, event i with binding item i of `bindAll`; each add's outcome. */
  const addAllBound = (
    writer: SpoolWriter,
    ids: string[],
    bindAll: (q: Queryable, items: unknown[]) => Promise<(Error | undefined)[]>,
  ) =>
    Promise.allSettled(
      ids.map((id, i) =>
        writer.add({ start: startOf(id), reason: 'backlog', binding: { bindAll, item: i } }),
      ),
    );

  it('writes the events of one turn in one transaction, in arrival order', async () => {
    const writer = new SpoolWriter(store, spool, { concurrency: 1 });
    const ids = Array.from({ length: 50 }, (_, i) => `mailgun:order-${i}`);
    const added = await Promise.all(ids.map((id) => writer.add({ start: startOf(id), reason: 'backlog' })));
    expect(added).toEqual(ids.map(() => true));
    const { rows } = await store.query<{ workflow_id: string; x: string }>(
      'SELECT workflow_id, xmin::text AS x FROM start_spool WHERE workflow_id = ANY($1) ORDER BY seq',
      [ids],
    );
    expect(rows.map((r) => r.workflow_id)).toEqual(ids);
    expect(new Set(rows.map((r) => r.x)).size).toBe(1);
  });

  it('fails only the event whose statement failed; the others of its batch commit', async () => {
    const writer = new SpoolWriter(store, spool);
    const ids = Array.from({ length: 10 }, (_, i) => `mailgun:fault-${i}`);
    const faulty = async (q: Queryable, items: unknown[]) => {
      await q.query(items.includes(3) ? 'SELECT 1 / 0' : 'SELECT 1');
      return items.map(() => undefined);
    };
    // Event 3's binding breaks its statement (division by zero), which aborts the transaction.
    const results = await addAllBound(writer, ids, faulty);
    expect(results.map((r) => r.status)).toEqual(ids.map((_, i) => (i === 3 ? 'rejected' : 'fulfilled')));
    expect(
      await count(store, 'SELECT count(*)::int AS n FROM start_spool WHERE workflow_id = ANY($1)', [ids]),
    ).toBe(9);
  });

  it('refuses an event whose binding refuses it, and still commits the rest; a repeat is not added twice', async () => {
    const writer = new SpoolWriter(store, spool);
    const ids = ['mailgun:r-0', 'mailgun:r-1', 'mailgun:r-1'];
    const refuseFirst = async (_q: Queryable, items: unknown[]) =>
      items.map((i) =>
        i === 0 ? new InvalidSignatureError('token already used for another event') : undefined,
      );
    const results = await addAllBound(writer, ids, refuseFirst);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: expect.any(InvalidSignatureError) });
    expect(results[1]).toEqual({ status: 'fulfilled', value: true });
    expect(results[2]).toEqual({ status: 'fulfilled', value: false });
    expect(
      await count(store, 'SELECT count(*)::int AS n FROM start_spool WHERE workflow_id = ANY($1)', [ids]),
    ).toBe(1);
  });

  it('binds many Mailgun tokens at once; a token presented twice stays with the first event id', async () => {
    const bound = await store.tx((q) =>
      bindMailgunTokens(
        q,
        [
          { token: 'tok-a', eventId: 'e1' },
          { token: 'tok-a', eventId: 'e2' },
          { token: 'tok-b', eventId: 'e3' },
          { token: 'tok-a', eventId: 'e1' },
        ],
        600,
      ),
    );
    expect(bound).toEqual(['e1', 'e1', 'e3', 'e1']);
    expect(await bindMailgunTokens(store, [{ token: 'tok-b', eventId: 'e9' }], 600)).toEqual(['e3']);
  });
});
