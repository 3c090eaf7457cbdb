import { generateEncryptionKey } from '../../src/temporal/encryption-codec';
import { adminGet, startIntake, waitFor, type Intake } from '../support/harness';
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
});
