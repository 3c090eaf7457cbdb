import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { startApi, type RunningApi } from '../../src/api/server';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/platform/logger';
import { openStore, type Store } from '../../src/store/store';
import { createClient } from '../../src/temporal/connection';
import { testEnv } from '../support/harness';
import { createTestDatabase } from '../support/postgres';
import { mailgunRequest, partnerRequest, send } from '../support/requests';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

/**
 * A frozen PostgreSQL (every byte held back, nothing closed: what SIGSTOP does) while Temporal is up.
 * Each webhook needs the store (Mailgun's token binding), so the honest answer is 503 + Retry-After,
 * and it must come after INTAKE_STORE_TIMEOUT_MS, not after the provider's own timeout.
 */
describe('store frozen, Temporal up', () => {
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
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-test-frozen-'));
    const config = loadConfig(
      testEnv({ DATABASE_URL: url.toString(), INTAKE_DATA_DIR: dataDir, INTAKE_STORE_TIMEOUT_MS: '1000' }),
    );
    store = await openStore({ databaseUrl: config.databaseUrl, dataDir });
    client = createClient(config);
    api = await startApi({ config, client, store, logger: createLogger('silent') });
  });
  afterAll(async () => {
    proxy?.resume();
    await api?.close(1000);
    await client?.connection.close();
    await store?.close();
    await proxy?.close();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After within the bound instead of hanging, for Mailgun and partners', async () => {
    // Warm the pool, so requests wait on open connections as well as on new ones.
    expect((await send(api.url, mailgunRequest())).status).toBe(200);
    proxy.pause();
    const requests = [...Array.from({ length: 16 }, () => mailgunRequest()), partnerRequest()];
    const started = Date.now();
    const answers = await Promise.all(
      requests.map(async (r) => {
        const res = await fetch(api.url + r.path, {
          method: 'POST',
          headers: r.headers,
          body: r.body,
          // Far beyond the 1 s bound: only a hang reaches it (before the bound: 20 s and more).
          signal: AbortSignal.timeout(15_000),
        }).catch((err: Error) => ({ status: err.name, headers: new Headers() }));
        return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: Date.now() - started };
      }),
    );
    // The figure for RELIABILITY.md (not asserted: timing belongs in bench/).
    process.stdout.write(
      `frozen store: ${answers.length} requests, slowest answer ${Math.max(...answers.map((a) => a.ms))} ms\n`,
    );
    // Every event is archived before its acknowledgement (issue 20), so every source needs the
    // store: Mailgun (token binding and archive) and a partner event (archive) alike get 503.
    expect(answers.map((a) => [a.status, Number(a.retryAfter) > 0])).toEqual(requests.map(() => [503, true]));
    proxy.resume();
    // The provider's retry of the same delivery, store back: accepted once.
    const retried = await send(api.url, requests[0]!);
    expect([200, 503]).toContain(retried.status);
  });
});
