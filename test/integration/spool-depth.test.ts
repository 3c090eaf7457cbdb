import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnavailableError } from '../../src/errors';
import { SpoolWriter } from '../../src/ingest/spool-writer';
import { StartSpool } from '../../src/store/start-spool';
import { spooledStartOf } from '../support/spooled-start';
import { openStore, type Store } from '../../src/store/store';
import { createTestDatabase } from '../support/postgres';

/**
 * Issue 19: the spool overshot its depth limit (63 rows under a limit of 50) when writers counted
 * at the same moment. The count and the insert are now one critical section per store: however
 * many writers (transactions of one process, or API replicas with their own pools) spool at once,
 * exactly the limit is added and every other event is refused with 503.
 */
const LIMIT = 50;
const EVENTS = 200;

const startOf = spooledStartOf;

const waiting = async (store: Store) =>
  (await store.query<{ n: number }>('SELECT count(*)::int AS n FROM start_spool WHERE dead_at IS NULL'))
    .rows[0]!.n;

/** Spools EVENTS distinct events at once through `writers`, round robin; the outcomes. */
async function spoolConcurrently(writers: SpoolWriter[], prefix: string) {
  const results = await Promise.allSettled(
    Array.from({ length: EVENTS }, (_, i) =>
      writers[i % writers.length]!.add({ start: startOf(`mailgun:${prefix}-${i}`), reason: 'unavailable' }),
    ),
  );
  const added = results.filter((r) => r.status === 'fulfilled' && r.value === true).length;
  const full = results.filter((r) => r.status === 'rejected' && r.reason instanceof UnavailableError).length;
  return { added, full, other: EVENTS - added - full };
}

describe('spool depth limit under concurrent writers (PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const stores: Store[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    // Three "replicas": each its own pool, spool and writer with several transactions in flight.
    for (let i = 0; i < 3; i++) stores.push(await openStore({ databaseUrl: db.url, dataDir: os.tmpdir() }));
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await db?.drop();
  });

  it(`adds exactly ${LIMIT} of ${EVENTS} events spooled at once, refuses the rest with 503`, async () => {
    const writers = stores.flatMap((store) => {
      const spool = new StartSpool(store);
      return [1, 2].map(
        () => new SpoolWriter(store, spool, { maxDepth: LIMIT, maxBatch: 7, concurrency: 4 }),
      );
    });
    expect(await spoolConcurrently(writers, 'pg')).toEqual({ added: LIMIT, full: EVENTS - LIMIT, other: 0 });
    expect(await waiting(stores[0]!)).toBe(LIMIT);
  });

  it('does not count dead letters, and a redelivery of a spooled event is a duplicate, not full', async () => {
    const store = stores[0]!;
    const spool = new StartSpool(store);
    await store.query("UPDATE start_spool SET dead_at = now() WHERE workflow_id LIKE 'mailgun:pg-%'");
    const writer = new SpoolWriter(store, spool, { maxDepth: 2 });
    const first = await Promise.allSettled(
      ['a', 'b', 'c'].map((k) => writer.add({ start: startOf(`mailgun:dl-${k}`), reason: 'unavailable' })),
    );
    expect(
      first.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).constructor.name)),
    ).toEqual([true, true, 'UnavailableError']);
    await expect(writer.add({ start: startOf('mailgun:dl-a'), reason: 'unavailable' })).resolves.toBe(false);
  });
});

describe('spool depth limit under concurrent writers (embedded store)', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-test-spool-depth-'));
    store = await openStore({ dataDir: dir });
  });
  afterAll(async () => {
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`adds exactly ${LIMIT} of ${EVENTS} events spooled at once`, async () => {
    const spool = new StartSpool(store);
    const writers = [1, 2, 3].map(
      () => new SpoolWriter(store, spool, { maxDepth: LIMIT, maxBatch: 7, concurrency: 4 }),
    );
    expect(await spoolConcurrently(writers, 'lite')).toEqual({
      added: LIMIT,
      full: EVENTS - LIMIT,
      other: 0,
    });
    expect(await waiting(store)).toBe(LIMIT);
  });
});
