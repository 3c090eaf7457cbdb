import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { startApi, type RunningApi } from '../../src/api/server';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/platform/logger';
import { mailgunSource } from '../../src/sources/mailgun';
import { settingsOf } from '../../src/sources/types';
import { openStore, type Store } from '../../src/store/store';
import { createClient } from '../../src/temporal/connection';
import { generateEncryptionKey } from '../../src/temporal/encryption-codec';
import { spawnIntake, type IntakeChild } from '../support/child-process';
import { cliEnv, run } from '../support/cli';
import { adminGet, startIntake, TEST_ADMIN_TOKEN, testEnv, waitFor, type Intake } from '../support/harness';
import { createTestDatabase } from '../support/postgres';
import { freePort } from '../support/ports';
import { mailgunRequest, partnerRequest, send } from '../support/requests';
import { stoppableServer } from '../support/stoppable-server';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const ROOT = path.resolve(__dirname, '../..');
const count = async (intake: Intake, sql: string, values: unknown[] = []) =>
  (await intake.store.query<{ n: number }>(sql, values)).rows[0]!.n;

describe.each(['postgres', 'pglite'] as const)('Temporal killed, %s store up', (storeKind) => {
  let temporal: Awaited<ReturnType<typeof stoppableServer>>;
  let intake: Intake;
  beforeAll(async () => {
    temporal = await stoppableServer();
    intake = await startIntake({ store: storeKind, worker: false, temporalAddress: temporal.address });
  });
  afterAll(async () => {
    await intake?.stop();
    await temporal?.close();
  });

  it('acknowledges 50 signed Mailgun events with 200 from the spool, then processes each once', async () => {
    await temporal.kill();
    const events = Array.from({ length: 50 }, () => mailgunRequest());
    const answers = await Promise.all(events.map((e) => send(intake.url, e)));
    expect(answers.map((a) => a.status)).toEqual(events.map(() => 200));
    expect(answers.map((a) => a.json)).toEqual(
      events.map((e) => ({ id: `mailgun:${e.eventId}`, status: 'accepted' })),
    );
    // A redelivery of a spooled event is a duplicate; nothing is spooled twice.
    expect((await send(intake.url, events[0]!)).json).toEqual({
      id: `mailgun:${events[0]!.eventId}`,
      status: 'duplicate',
    });
    expect(await count(intake, 'SELECT count(*)::int AS n FROM start_spool')).toBe(50);
    // Archived with their spool rows (issue 20): an acknowledged event is never missing from the archive.
    expect(await count(intake, 'SELECT count(*)::int AS n FROM event_archive')).toBe(50);
    const view = await adminGet(intake.url, `/events/${encodeURIComponent(`mailgun:${events[1]!.eventId}`)}`);
    expect(view.json).toMatchObject({ status: 'queued', source: 'mailgun', eventType: 'delivered' });
    const ready = await fetch(`${intake.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      temporal: 'down',
      store: 'up',
      spooling: true,
      spool: { depth: 50 },
    });
    const metrics = await (await fetch(`${intake.url}/metrics`)).text();
    expect(metrics).toMatch(/^intake_spool_depth 50$/m);
    expect(metrics).toMatch(/^intake_spooled_total\{source="mailgun",reason="(timeout|unavailable)"\} \d+$/m);

    await temporal.restart();
    await intake.startWorker();
    await waitFor(
      async () => (await count(intake, `SELECT count(*)::int AS n FROM processed_events`)) === 50,
      120_000,
      'all 50 spooled events to be processed',
    );
    await waitFor(
      async () => (await count(intake, 'SELECT count(*)::int AS n FROM start_spool')) === 0,
      30_000,
    );
    const ids = events.map((e) => e.eventId);
    expect(
      await count(intake, 'SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = ANY($1)', [ids]),
    ).toBe(50);
    const processed = await adminGet(intake.url, `/events/${encodeURIComponent(`mailgun:${ids[1]}`)}`);
    expect(processed.json).toMatchObject({ status: 'processed', attempts: 1 });
    const relayed = await (await fetch(`${intake.url}/metrics`)).text();
    // Every row was relayed once: started, or found already started (a start that persisted while
    // its answer timed out on a busy machine, retried by the relay). Either way each ran once (above).
    const relayedAs = (outcome: string) =>
      Number(
        new RegExp(
          `^intake_spool_relayed_total\\{source="mailgun",outcome="${outcome}"\\} (\\d+)$`,
          'm',
        ).exec(relayed)?.[1] ?? 0,
      );
    expect(relayedAs('started')).toBeGreaterThan(0);
    expect(relayedAs('started') + relayedAs('duplicate')).toBe(50);
    expect(relayed).toMatch(
      new RegExp(`^intake_workflow_starts_total\\{source="mailgun"\\} ${relayedAs('started')}$`, 'm'),
    );
    expect(relayed).toMatch(/^intake_spool_depth 0$/m);
    const after = await (await fetch(`${intake.url}/readyz`)).json();
    expect(after).toEqual({ status: 'ready', temporal: 'up', store: 'up' });
  });
});

describe('two API processes relay one spool', () => {
  let temporal: Awaited<ReturnType<typeof stoppableServer>>;
  let a: Intake;
  let b: IntakeChild | undefined;
  let bUrl: string;
  beforeAll(async () => {
    temporal = await stoppableServer();
    // Small rounds (the relay starts INTAKE_MAX_INFLIGHT_STARTS at once), so both relays take turns.
    a = await startIntake({
      store: 'postgres',
      worker: false,
      temporalAddress: temporal.address,
      env: { INTAKE_MAX_INFLIGHT_STARTS: '2' },
    });
    const port = await freePort();
    bUrl = `http://127.0.0.1:${port}`;
    b = spawnIntake('api', {
      ...(Object.fromEntries(
        Object.entries({
          PORT: String(port),
          HOST: '127.0.0.1',
          TEMPORAL_ADDRESS: temporal.address,
          INTAKE_TASK_QUEUE: a.config.temporal.taskQueue,
          DATABASE_URL: a.config.databaseUrl!,
          MAILGUN_SIGNING_KEY: settingsOf(a.config, mailgunSource).signingKey!,
          INTAKE_ADMIN_TOKEN: a.config.adminToken!,
          INTAKE_START_TIMEOUT_MS: '3000',
          INTAKE_MAX_INFLIGHT_STARTS: '2',
          LOG_LEVEL: 'info',
        }),
      ) as Record<string, string>),
    });
    await b.waitForLog('intake api listening', 60_000);
  });
  afterAll(async () => {
    await b?.stop('SIGKILL', 0);
    await a?.stop();
    await temporal?.close();
  });

  it('starts every event once, and a kill -9 of one relay mid-round loses nothing', async () => {
    await temporal.kill();
    const events = Array.from({ length: 40 }, () => mailgunRequest());
    const answers = await Promise.all(events.map((e, i) => send(i % 2 ? bUrl : a.url, e)));
    expect(answers.map((r) => r.status)).toEqual(events.map(() => 200));
    expect(await count(a, 'SELECT count(*)::int AS n FROM start_spool')).toBe(40);

    await temporal.restart();
    // Kill B as soon as the relays are under way: rows B leased and had not finished stay leased
    // until their lease ends, then A takes them over; "already started" counts as done.
    await waitFor(async () => (await count(a, 'SELECT count(*)::int AS n FROM start_spool')) < 40, 60_000);
    await b!.stop('SIGKILL', 0);
    b = undefined;
    await a.startWorker();
    await waitFor(
      async () => (await count(a, 'SELECT count(*)::int AS n FROM processed_events')) === 40,
      120_000,
      'all 40 events to be processed',
    );
    await waitFor(async () => (await count(a, 'SELECT count(*)::int AS n FROM start_spool')) === 0, 60_000);
    const ids = events.map((e) => e.eventId);
    expect(
      await count(
        a,
        'SELECT count(DISTINCT event_id)::int AS n FROM mailgun_events WHERE event_id = ANY($1)',
        [ids],
      ),
    ).toBe(40);
    expect(
      await count(a, 'SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = ANY($1)', [ids]),
    ).toBe(40);
  });
});

describe('encryption on, Temporal unreachable', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      worker: false,
      // Nothing listens there: every start fails.
      temporalAddress: `127.0.0.1:${await freePort()}`,
      env: { INTAKE_ENCRYPTION_KEYS: generateEncryptionKey('k1') },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('keeps no plaintext from the payload in the spool or the quarantine', async () => {
    const recipient = `spool-${Date.now()}@customer.example`;
    const messageId = `msg-${Date.now()}@mail.example`;
    const spooled = mailgunRequest({ recipient, messageId });
    expect((await send(intake.url, spooled)).status).toBe(200);
    const broken = mailgunRequest({
      recipient,
      messageId,
      mutate: (b) => ((b['event-data'] as { severity?: string }).severity = 'soft'),
    });
    expect((await send(intake.url, broken)).status).toBe(422);

    const spool = await intake.store.query<{ data: Buffer; encrypted: boolean }>(
      'SELECT data, encrypted FROM start_spool',
    );
    const rejected = await intake.store.query<{ body: Buffer; encrypted: boolean }>(
      'SELECT body, encrypted FROM rejected_events',
    );
    expect(spool.rows).toHaveLength(1);
    expect(rejected.rows).toHaveLength(1);
    for (const bytes of [spool.rows[0]!.data, rejected.rows[0]!.body]) {
      const text = bytes.toString('latin1');
      for (const secret of [recipient, messageId, 'delivered', 'alice'])
        expect(text.includes(secret)).toBe(false);
    }
    expect(spool.rows[0]!.encrypted && rejected.rows[0]!.encrypted).toBe(true);
    // The API still reads them back.
    const view = await adminGet(intake.url, `/events/${encodeURIComponent(`mailgun:${spooled.eventId}`)}`);
    expect(view.json).toMatchObject({ status: 'queued', eventType: 'delivered' });
  });
});

describe('Temporal and the store both down', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: TcpProxy;
  let store: Store;
  let client: Client;
  let api: RunningApi;
  let dataDir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
    const url = new URL(db.url);
    url.port = String(proxy.port);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-test-down-'));
    const config = loadConfig(
      testEnv({
        DATABASE_URL: url.toString(),
        INTAKE_DATA_DIR: dataDir,
        TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      }),
    );
    store = await openStore({ databaseUrl: config.databaseUrl, dataDir });
    client = createClient(config);
    api = await startApi({ config, client, store, logger: createLogger('silent') });
  });
  afterAll(async () => {
    await api?.close(1000);
    await client?.connection.close();
    await store?.close();
    await proxy?.close();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After and writes nothing; with the store back, the retry is spooled', async () => {
    await proxy.cut();
    const mailgun = mailgunRequest();
    const partner = partnerRequest();
    for (const r of [mailgun, partner]) {
      const res = await send(api.url, r);
      expect(res.status).toBe(503);
      expect(res.json).toEqual({ error: 'unavailable' });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    await proxy.restore();
    const direct = new pg.Client({ connectionString: db.url });
    await direct.connect();
    try {
      const n = async (sql: string) => (await direct.query<{ n: number }>(sql)).rows[0]!.n;
      expect(await n('SELECT count(*)::int AS n FROM start_spool')).toBe(0);
      expect(await n('SELECT count(*)::int AS n FROM mailgun_tokens')).toBe(0);
      expect(await n('SELECT count(*)::int AS n FROM offloaded_payloads')).toBe(0);
      // The provider's retry of the same bytes, store back and Temporal still down: spooled.
      const retried = await waitFor(async () => {
        const res = await send(api.url, mailgun);
        return res.status === 503 ? undefined : res;
      }, 30_000);
      expect(retried.status).toBe(200);
      expect(retried.json).toEqual({ id: `mailgun:${mailgun.eventId}`, status: 'accepted' });
      expect(await n('SELECT count(*)::int AS n FROM start_spool')).toBe(1);
      expect(await n('SELECT count(*)::int AS n FROM mailgun_tokens')).toBe(1);
    } finally {
      await direct.end();
    }
  });
});

describe('bursts and the spool depth limit', () => {
  let burst: Intake;
  let down: Intake;
  beforeAll(async () => {
    // One start in flight at a time: a burst overflows the bound at once.
    burst = await startIntake({ store: 'postgres', env: { INTAKE_MAX_INFLIGHT_STARTS: '1' } });
    down = await startIntake({
      store: 'postgres',
      worker: false,
      temporalAddress: `127.0.0.1:${await freePort()}`,
      env: { INTAKE_SPOOL_MAX_DEPTH: '3' },
    });
  });
  afterAll(async () => {
    await burst?.stop();
    await down?.stop();
  });

  it('spools what the start bound cannot take at once, instead of 503, and processes each once', async () => {
    const events = Array.from({ length: 30 }, () => mailgunRequest());
    const answers = await Promise.all(events.map((e) => send(burst.url, e)));
    expect(answers.map((a) => a.status)).toEqual(events.map(() => 200));
    const metrics = await (await fetch(`${burst.url}/metrics`)).text();
    expect(metrics).toMatch(
      /^intake_spooled_total\{source="mailgun",reason="(overloaded|backlog)"\} [1-9]\d*$/m,
    );
    await waitFor(
      async () => (await count(burst, 'SELECT count(*)::int AS n FROM processed_events')) === 30,
      60_000,
      'the burst to be processed',
    );
    const ids = events.map((e) => e.eventId);
    expect(
      await count(burst, 'SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = ANY($1)', [ids]),
    ).toBe(30);
  });

  it('answers 503 + Retry-After once the spool holds INTAKE_SPOOL_MAX_DEPTH events', async () => {
    const statuses: number[] = [];
    const first = mailgunRequest();
    for (let i = 0; i < 5; i++) {
      const res = await send(down.url, i === 0 ? first : mailgunRequest());
      statuses.push(res.status);
      if (res.status === 503) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([200, 200, 200, 503, 503]);
    expect(await count(down, 'SELECT count(*)::int AS n FROM start_spool')).toBe(3);
    // `intake events show` finds a spooled event through the API while Temporal is unreachable.
    const shown = await run(
      path.join(ROOT, 'node_modules', '.bin', 'tsx'),
      ['src/cli/main.ts', 'events', 'show', `mailgun:${first.eventId}`],
      {
        ...cliEnv(down.config),
        INTAKE_API_URL: down.url,
        INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      },
    );
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: `mailgun:${first.eventId}`, status: 'queued' });
  });
});
