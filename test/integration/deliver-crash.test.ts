import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { stringify } from 'yaml';
import { presets } from '../../src/sources/presets';
import { spawnIntake, type IntakeChild } from '../support/child-process';
import { adminGet, post, startIntake, waitFor, type Intake } from '../support/harness';
import { PROVIDER_SECRETS, signAsProvider } from '../support/provider-signing';

jest.setTimeout(600_000);

/**
 * Issue 22, must-show 4: a worker process killed with SIGKILL while it delivers. 200 GitHub events
 * (signed by @octokit/webhooks-methods) go to a file source whose receiver holds each delivery
 * for a while, so deliveries are open on the wire when worker A (its own process) is killed; worker
 * B takes over. The receiver ends with every event id at least once; its dedup by `webhook-id`
 * yields each exactly once (every copy carries the same body and a valid signature), and nothing is
 * parked.
 */
const DELIVERY_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const EVENTS = 200;
const HOLD_MS = 400;

describe('kill -9 of the worker mid-delivery: every event delivered, once after dedup, none parked', () => {
  let intake: Intake;
  let receiver: http.Server;
  let dir: string;
  let workerA: IntakeChild | undefined;
  /** Every delivery the receiver got, in order; `open` counts those not answered yet. */
  const deliveries: { id: string; body: string; valid: boolean }[] = [];
  let open = 0;
  /** The receiver's dedup by webhook-id: the first copy of each event is applied, others skipped. */
  const applied = new Map<string, string>();

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      open++;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const id = String(req.headers['webhook-id']);
        let valid = true;
        try {
          new Webhook(DELIVERY_SECRET).verify(body, req.headers as Record<string, string>);
        } catch {
          valid = false;
        }
        deliveries.push({ id, body, valid });
        setTimeout(() => {
          if (valid && !applied.has(id)) applied.set(id, body);
          res.writeHead(valid ? 200 : 401).end();
        }, HOLD_MS);
      });
      // Answered, or the connection died with the delivery open (worker A killed).
      res.on('close', () => open--);
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/github`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-deliver-crash-'));
    const file = path.join(dir, 'sources.yaml');
    fs.writeFileSync(
      file,
      stringify({
        sources: [
          {
            name: 'gh',
            preset: 'github',
            secrets: ['GH_SECRET'],
            deliver: { url, secret: 'DELIVERY_SECRET' },
          },
        ],
      }),
    );
    const env = {
      INTAKE_SOURCES_FILE: file,
      GH_SECRET: PROVIDER_SECRETS.github!,
      DELIVERY_SECRET,
      INTAKE_ACTIVITY_HEARTBEAT_TIMEOUT_MS: '2000',
    };
    // The API and, after the kill, worker B in this process; worker A in its own.
    intake = await startIntake({ store: 'postgres', worker: false, env });
    workerA = spawnIntake(
      'worker',
      {
        ...env,
        TEMPORAL_ADDRESS: intake.config.temporal.address,
        TEMPORAL_NAMESPACE: intake.config.temporal.namespace,
        INTAKE_TASK_QUEUE: intake.config.temporal.taskQueue,
        DATABASE_URL: intake.config.databaseUrl!,
        INTAKE_WORKER_METRICS_PORT: '0',
        LOG_LEVEL: 'info',
      },
      'worker-a',
    );
    await workerA.waitForLog('intake worker polling', 120_000);
  }, 240_000);

  afterAll(async () => {
    if (workerA && workerA.proc.exitCode === null && workerA.proc.signalCode === null) {
      workerA.proc.kill('SIGKILL');
      await workerA.exited;
    }
    await intake?.stop();
    await new Promise((r) => receiver?.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers all 200 after worker A is killed mid-delivery; dedup by webhook-id yields each once', async () => {
    const sample = presets.get('github')!.example;
    const ids = Array.from({ length: EVENTS }, () => randomUUID());
    let sent = 0;
    const sender = (async () => {
      // 10 at a time, as a provider's delivery workers would.
      for (let i = 0; i < ids.length; i += 10) {
        await Promise.all(
          ids.slice(i, i + 10).map(async (id, j) => {
            const body = JSON.stringify({ ...sample.body, n: i + j });
            const req = await signAsProvider('github', PROVIDER_SECRETS.github!, body, {
              ...sample.headers,
              'X-GitHub-Delivery': id,
            });
            const res = await post(intake.url, { path: '/webhooks/gh', ...req });
            expect(res.status).toBe(200);
            sent++;
          }),
        );
      }
    })();

    // Kill worker A once it has delivered some and while deliveries are open on the wire.
    await waitFor(async () => applied.size >= 20 && open > 0, 240_000, 'deliveries under way');
    const openAtKill = open;
    const appliedAtKill = applied.size;
    workerA!.proc.kill('SIGKILL');
    expect(await workerA!.exited).toBeNull();
    expect(openAtKill).toBeGreaterThan(0);
    expect(appliedAtKill).toBeLessThan(EVENTS);
    await sender;
    expect(sent).toBe(EVENTS);

    await intake.startWorker();
    await waitFor(async () => applied.size === EVENTS, 480_000, 'every event id applied');
    // Every event id reached the receiver at least once and only ids that were sent.
    expect([...applied.keys()].sort()).toEqual([...ids].sort());
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(EVENTS);
    // Every copy of one webhook-id is the same event, validly signed: dedup by webhook-id is safe.
    expect(deliveries.filter((d) => !d.valid)).toHaveLength(0);
    for (const d of deliveries) expect(d.body).toBe(applied.get(d.id));

    await waitFor(
      async () => {
        const states = await Promise.all(
          ids.map(
            async (id) =>
              (await adminGet(intake.url, `/events/${encodeURIComponent(`gh:${id}`)}`)).json.status,
          ),
        );
        return states.every((s) => s === 'processed');
      },
      240_000,
      'every event processed',
    );
    const parked = await adminGet(intake.url, '/admin/events?status=parked&source=gh&limit=100');
    expect(JSON.stringify(parked.json)).not.toMatch(/gh:/);
    // For the record: how many deliveries the kill repeated.
    process.stdout.write(
      `deliver-crash: ${deliveries.length} deliveries for ${EVENTS} events (${openAtKill} open at the kill)\n`,
    );
  });
});
