import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mailgunExample } from '../../src/sources/mailgun';
import { spawnIntake, type IntakeChild } from '../support/child-process';
import {
  post,
  startIntake,
  TEST_ADMIN_TOKEN,
  TEST_MAILGUN_KEY,
  waitFor,
  type Intake,
} from '../support/harness';
import { freePort } from '../support/ports';

/** A POST whose body is sent in two parts, so the request is in flight for as long as the test wants. */
function splitRequest(port: number, body: string) {
  const half = Math.floor(body.length / 2);
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/webhooks/mailgun',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  const response = new Promise<{ status: number; body: string; connection?: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: text, connection: res.headers.connection }),
      );
    });
    req.on('error', reject);
  });
  req.write(body.slice(0, half));
  return { response, finish: () => req.end(body.slice(half)) };
}

/** Opens a fresh TCP connection and sends one request; resolves with the error code if refused. */
function freshConnection(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(`answered ${res.statusCode}`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

describe('SIGTERM to an API process under load', () => {
  let intake: Intake;
  let api: IntakeChild;
  let port: number;
  beforeAll(async () => {
    // The in-process harness provides the store, the task queue and the worker; the API is a child.
    intake = await startIntake({ store: 'postgres' });
    port = await freePort();
    api = spawnIntake('api', {
      PORT: String(port),
      HOST: '127.0.0.1',
      TEMPORAL_ADDRESS: intake.config.temporal.address,
      INTAKE_TASK_QUEUE: intake.config.temporal.taskQueue,
      DATABASE_URL: intake.config.databaseUrl ?? '',
      MAILGUN_SIGNING_KEY: TEST_MAILGUN_KEY,
      INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      INTAKE_SHUTDOWN_GRACE_S: '20',
      LOG_LEVEL: 'info',
    });
    await api.waitForLog('intake api listening', 90_000);
  }, 120_000);
  afterAll(async () => {
    await api?.stop('SIGKILL');
    await intake?.stop();
  });

  it('answers in-flight requests, refuses new connections, and loses nothing it acknowledged', async () => {
    const base = `http://127.0.0.1:${port}`;
    const acked: string[] = [];
    const failures: string[] = [];
    let loading = true;
    const sender = async () => {
      while (loading) {
        const req = mailgunExample({ signingKey: TEST_MAILGUN_KEY });
        const id = `mailgun:${JSON.parse(req.body)['event-data'].id as string}`;
        try {
          const res = await post(base, req);
          if (res.status === 200) acked.push(id);
          else failures.push(`status ${res.status}`);
        } catch (err) {
          // Refused or cut connections after the SIGTERM: not acknowledged, so nothing to keep.
          failures.push((err as Error).message);
          return;
        }
      }
    };
    const senders = Array.from({ length: 6 }, sender);
    await waitFor(async () => acked.length >= 20, 60_000, 'load under way');

    // A request in flight at the SIGTERM: headers and half the body are already sent.
    const inflight = mailgunExample({
      signingKey: TEST_MAILGUN_KEY,
      recipient: `inflight-${randomBytes(4).toString('hex')}@example.com`,
    });
    const inflightId = `mailgun:${JSON.parse(inflight.body)['event-data'].id as string}`;
    const split = splitRequest(port, inflight.body);
    const before = acked.length;
    await waitFor(async () => acked.length >= before + 3, 30_000, 'more load after the split request');

    api.proc.kill('SIGTERM');
    await api.waitForLog('draining in-flight requests', 30_000);
    expect(await freshConnection(port)).toBe('ECONNREFUSED');

    split.finish();
    const answered = await split.response;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toEqual({ id: inflightId, status: 'accepted' });
    expect(answered.connection).toBe('close');
    acked.push(inflightId);

    loading = false;
    await Promise.all(senders);
    expect(await api.exited).toBe(0);
    expect(await freshConnection(port)).toBe('ECONNREFUSED');

    // Every acknowledged event is processed, exactly once.
    const count = async () =>
      Number(
        (
          await intake.store.query('SELECT count(*)::int AS n FROM processed_events WHERE id = ANY($1)', [
            acked,
          ])
        ).rows[0]?.n,
      );
    await waitFor(
      async () => (await count()) === acked.length,
      120_000,
      `${acked.length} acknowledged events processed`,
    );
    expect(new Set(acked).size).toBe(acked.length);
    const rows = await intake.store.query('SELECT count(*)::int AS n FROM mailgun_events');
    expect(rows.rows[0]?.n).toBeGreaterThanOrEqual(acked.length);
  }, 240_000);
});
