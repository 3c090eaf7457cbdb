import { setTimeout as delay } from 'node:timers/promises';
import { generateEncryptionKey } from '../../src/temporal/encryption-codec';
import { spawnIntake } from '../support/child-process';
import {
  adminGet,
  startIntake,
  TEST_ADMIN_TOKEN,
  TEST_MAILGUN_KEY,
  waitFor,
  type Intake,
} from '../support/harness';
import { mailgunRequest, send } from '../support/requests';

/**
 * Issue 19: an API replica with other INTAKE_ENCRYPTION_KEYS than the workers started events no
 * worker could decode, shown as `processing` with no error. On the real dev server, an API
 * encrypting with k2 and a worker holding only k1: the event's `lastError` names the missing key.
 */
describe('an API and a worker with different encryption keys', () => {
  const k1 = generateEncryptionKey('k1');
  const k2 = generateEncryptionKey('k2');
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres', worker: false, env: { INTAKE_ENCRYPTION_KEYS: k2 } });
    await intake.startWorker({ INTAKE_ENCRYPTION_KEYS: k1 });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('shows the event with a clear error naming the key the worker lacks, not a silent processing', async () => {
    const req = mailgunRequest();
    expect((await send(intake.url, req)).status).toBe(200);
    const id = `mailgun:${req.eventId}`;
    const view = await waitFor(
      async () => {
        const res = await adminGet(intake.url, `/events/${encodeURIComponent(id)}`);
        return typeof res.json.lastError === 'string' ? res.json : undefined;
      },
      60_000,
      'the event to show why it does not run',
    );
    expect(view.status).not.toBe('processed');
    expect(view.lastError).toMatch(/workflow task failing: .*unknown encryption key id "k2"/);
    expect(view.lastError).toMatch(/INTAKE_ENCRYPTION_KEYS/);
  });

  // Runs after the event above: the newest archived event is encrypted with k2.
  it('refuses to start an API or a worker whose keys cannot decrypt the newest archived event', async () => {
    const env = (keys?: string) => ({
      TEMPORAL_ADDRESS: intake.config.temporal.address,
      INTAKE_TASK_QUEUE: intake.config.temporal.taskQueue,
      DATABASE_URL: intake.config.databaseUrl!,
      MAILGUN_SIGNING_KEY: TEST_MAILGUN_KEY,
      INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      PORT: '0',
      INTAKE_WORKER_METRICS_PORT: '0',
      ...(keys ? { INTAKE_ENCRYPTION_KEYS: keys } : {}),
    });
    for (const [command, keys, reason] of [
      ['worker', k1, /key id "k2", which this process does not hold \(it has "k1"\)/],
      ['api', k1, /key id "k2", which this process does not hold/],
      ['worker', undefined, /key id "k2", but INTAKE_ENCRYPTION_KEYS is not set here/],
    ] as const) {
      const child = spawnIntake(command, env(keys), `${command}-${keys ? 'k1' : 'none'}`);
      // A process that wrongly starts is stopped, not left polling after the test fails.
      const code = await Promise.race([
        child.exited,
        delay(60_000).then(async () => {
          await child.stop('SIGKILL');
          return 'still running after 60 s';
        }),
      ]);
      expect({ command, code, stderr: child.stderr() }).toEqual({
        command,
        code: 1,
        stderr: expect.stringMatching(/configuration error: INTAKE_ENCRYPTION_KEYS: /),
      });
      expect(child.stderr()).toMatch(reason);
    }
    // Holding k2 beside k1 (a rotation in progress) is enough.
    await intake.stopWorker();
    await expect(intake.startWorker({ INTAKE_ENCRYPTION_KEYS: `${k1},${k2}` })).resolves.toBeDefined();
  });
});
