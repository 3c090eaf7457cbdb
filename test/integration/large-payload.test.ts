import { randomBytes } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { mailgunExample } from '../../src/sources/mailgun';
import type { SignedRequest } from '../../src/sources/types';
import { adminGet, post, startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';

const MiB = 1024 * 1024;

/** A signed Mailgun event whose user-variables carry `padBytes` of filler (the signature does not cover event-data). */
function paddedMailgunEvent(padBytes: number, marker: string): { req: SignedRequest; eventId: string } {
  const req = mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered' });
  const body = JSON.parse(req.body);
  const filler = marker.repeat(Math.ceil(padBytes / marker.length)).slice(0, padBytes);
  body['event-data']['user-variables'] = { note: filler };
  return { req: { ...req, body: JSON.stringify(body) }, eventId: body['event-data'].id as string };
}

/** The size of a workflow's whole history as Temporal stores it (protobuf). */
async function historyBytes(intake: Intake, workflowId: string): Promise<Buffer> {
  const history = await intake.client.workflow.getHandle(workflowId).fetchHistory();
  return Buffer.from(temporal.api.history.v1.History.encode(history).finish());
}

describe('large payloads: a store-backed claim check keeps them out of the history (postgres)', () => {
  let big: Intake;
  let defaults: Intake;
  beforeAll(async () => {
    big = await startIntake({ store: 'postgres', env: { INTAKE_MAX_BODY_BYTES: String(10 * MiB) } });
    // A second API replica on the same store and queue, with the default 1 MiB limit.
    defaults = await startIntake({ store: 'postgres', shareWith: big, worker: false });
  });
  afterAll(async () => {
    await defaults?.stop();
    await big?.stop();
  });

  it('takes a 5 MiB event end to end with INTAKE_MAX_BODY_BYTES at 10 MiB; the history stays tiny', async () => {
    const marker = `pad-${randomBytes(4).toString('hex')}-`;
    const { req, eventId } = paddedMailgunEvent(5 * MiB, marker);
    expect(Buffer.byteLength(req.body)).toBeGreaterThan(5 * MiB);
    const id = `mailgun:${eventId}`;

    const res = await post(big.url, req);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id, status: 'accepted' });

    const view = await waitFor(
      async () => {
        const r = await adminGet(big.url, `/events/${encodeURIComponent(id)}`);
        return r.json.status === 'processed' ? r.json : undefined;
      },
      60_000,
      'processed',
    );
    expect(view).toMatchObject({ id, status: 'processed', attempts: 1, lastError: null });
    const rows = await big.store.query('SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = $1', [
      eventId,
    ]);
    expect(rows.rows[0]?.n).toBe(1);

    // The body sits in the store, unencrypted here (no keys), whole.
    const stored = await big.store.query<{ bytes: number; encrypted: boolean }>(
      'SELECT bytes, encrypted FROM offloaded_payloads WHERE id = $1',
      [id],
    );
    expect(stored.rows[0]?.encrypted).toBe(false);
    expect(stored.rows[0]?.bytes).toBeGreaterThan(5 * MiB);

    // Temporal refuses payloads over 2 MiB; this history holds only the reference.
    const history = await historyBytes(big, id);
    expect(history.length).toBeLessThan(64 * 1024);
    expect(history.includes(Buffer.from(marker))).toBe(false);
  });

  it('keeps a small event in the history as before (no store round trip)', async () => {
    const req = mailgunExample({
      signingKey: TEST_MAILGUN_KEY,
      event: 'opened',
      recipient: 'small@example.com',
    });
    const { id: eventId } = JSON.parse(req.body)['event-data'];
    const id = `mailgun:${eventId}`;
    expect((await post(big.url, req)).status).toBe(200);
    await waitFor(async () => (await big.events.get(id)).status === 'processed', 30_000, 'processed');
    const stored = await big.store.query('SELECT 1 FROM offloaded_payloads WHERE id = $1', [id]);
    expect(stored.rowCount).toBe(0);
    expect((await historyBytes(big, id)).includes(Buffer.from('small@example.com'))).toBe(true);
  });

  it('answers a redelivered large event as a duplicate and keeps one stored copy', async () => {
    const { req, eventId } = paddedMailgunEvent(300 * 1024, 'redelivery-');
    const id = `mailgun:${eventId}`;
    expect((await post(big.url, req)).status).toBe(200);
    const again = await post(big.url, req);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ id, status: 'duplicate' });
    await waitFor(async () => (await big.events.get(id)).status === 'processed', 30_000, 'processed');
    const stored = await big.store.query('SELECT count(*)::int AS n FROM offloaded_payloads WHERE id = $1', [
      id,
    ]);
    expect(stored.rows[0]?.n).toBe(1);
  });

  it('refuses a 2 MiB body with 413 under the default 1 MiB limit', async () => {
    expect(defaults.config.maxBodyBytes).toBe(MiB);
    const { req } = paddedMailgunEvent(2 * MiB, 'x');
    const res = await post(defaults.url, req);
    expect(res.status).toBe(413);
    expect(res.json).toEqual({ error: 'payload_too_large' });
  });
});
