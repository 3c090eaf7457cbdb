import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { deleteWorkflow } from '../support/archive';
import { mailgunExample } from '../../src/sources/mailgun';
import { sweepArchive } from '../../src/store/event-archive';
import { generateEncryptionKey } from '../../src/temporal/encryption-codec';
import {
  adminGet,
  post,
  startIntake,
  TEST_ADMIN_TOKEN,
  TEST_MAILGUN_KEY,
  waitFor,
  type Intake,
} from '../support/harness';

const eventView = async (intake: Intake, id: string) =>
  (await adminGet(intake.url, `/events/${encodeURIComponent(id)}`)).json;

/**
 * Issue 20's archive: every acknowledged event is in the store's archive before its answer, the
 * worker keeps the archive row's outcome, and once Temporal deleted the workflow GET /events/:id
 * answers from it and a redelivery stays `200 duplicate` without starting anything.
 */
describe('the event archive', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      env: { INTAKE_FAILPOINTS: 'mailgun.permanent=clicked' },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });
  const row = async (id: string) =>
    (await intake.store.query('SELECT * FROM event_archive WHERE id = $1', [id])).rows[0] as
      Record<string, unknown> | undefined;

  it('archives an accepted event before its answer and marks it processed with the ledger', async () => {
    const req = mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered' });
    // No worker: the row is there when the answer is, before any processing.
    await intake.stopWorker();
    const res = await post(intake.url, req);
    expect(res.status).toBe(200);
    const id = res.json.id as string;
    const archived = await row(id);
    expect(archived).toMatchObject({
      source: 'mailgun',
      event_type: 'delivered',
      status: 'received',
      revision: 1,
    });
    expect(archived?.encrypted).toBe(false);
    await intake.startWorker();
    await waitFor(async () => (await row(id))?.status === 'processed', 60_000, 'archive processed');
    const ledger = await intake.store.query('SELECT revision FROM processed_events WHERE id = $1', [id]);
    expect(ledger.rows).toEqual([{ revision: 1 }]);
    expect(await eventView(intake, id)).toMatchObject({
      id,
      status: 'processed',
      revision: 1,
      replayedAt: null,
    });
  });

  it('answers GET /events/:id from the archive after `temporal workflow delete`; a redelivery is a duplicate', async () => {
    const req = mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'opened' });
    const res = await post(intake.url, req);
    const id = res.json.id as string;
    await waitFor(async () => (await eventView(intake, id)).status === 'processed', 60_000, 'processed');
    const before = await eventView(intake, id);
    await deleteWorkflow(intake, id);

    const after = await eventView(intake, id);
    expect(after).toMatchObject({
      id,
      source: 'mailgun',
      eventType: 'opened',
      status: 'processed',
      receivedAt: before.receivedAt,
      revision: 1,
      replayedAt: null,
    });
    expect(after.processedAt).toEqual(expect.any(String));

    // The same delivery again (same token, same event id): Temporal forgot it, the archive did not.
    const again = await post(intake.url, req);
    expect(again).toMatchObject({ status: 200, json: { id, status: 'duplicate' } });
    await expect(intake.client.workflow.getHandle(id).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    const events = await intake.store.query(
      'SELECT count(*)::int AS n FROM mailgun_events WHERE event_id = $1',
      [id.slice('mailgun:'.length)],
    );
    expect(events.rows[0]?.n).toBe(1);
  });

  it('keeps a parked and then discarded event’s outcome; GET answers `discarded` once the workflow is gone', async () => {
    const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'clicked' }));
    const id = res.json.id as string;
    await waitFor(async () => (await row(id))?.status === 'parked', 60_000, 'archive parked');
    expect(String((await row(id))?.last_error)).toMatch(/failpoint mailgun\.permanent/);
    const discard = await fetch(`${intake.url}/events/${encodeURIComponent(id)}/discard`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(discard.status).toBe(202);
    await waitFor(async () => (await row(id))?.status === 'discarded', 60_000, 'archive discarded');
    await waitFor(async () => (await eventView(intake, id)).status === 'discarded', 60_000, 'discarded');
    await deleteWorkflow(intake, id);
    expect(await eventView(intake, id)).toMatchObject({ id, status: 'discarded', eventType: 'clicked' });
  });

  it('sweeps rows past INTAKE_ARCHIVE_RETENTION_DAYS; then the event is unknown', async () => {
    expect(intake.config.archiveRetentionDays).toBe(30);
    const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered' }));
    const id = res.json.id as string;
    const r = await row(id);
    const days =
      (new Date(r!.expires_at as Date).getTime() - new Date(r!.received_at as Date).getTime()) / 86_400_000;
    expect(days).toBeCloseTo(30, 5);
    await waitFor(async () => (await row(id))?.status === 'processed', 60_000, 'processed');
    await deleteWorkflow(intake, id);
    await intake.store.query(
      `UPDATE event_archive SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [id],
    );
    expect(await sweepArchive(intake.store)).toBeGreaterThanOrEqual(1);
    expect(await row(id)).toBeUndefined();
    expect((await adminGet(intake.url, `/events/${encodeURIComponent(id)}`)).status).toBe(404);
  });
});

describe('the event archive with INTAKE_ENCRYPTION_KEYS', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      env: { INTAKE_ENCRYPTION_KEYS: generateEncryptionKey('k1') },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('keeps no payload value in plain text in any table of the store', async () => {
    const subject = `Subject-${randomBytes(6).toString('hex')}-confidential`;
    const req = mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered' });
    const body = JSON.parse(req.body);
    body['event-data'].message.headers.subject = subject;
    const res = await post(intake.url, { ...req, body: JSON.stringify(body) });
    const id = res.json.id as string;
    await waitFor(async () => (await eventView(intake, id)).status === 'processed', 60_000, 'processed');
    const archived = await intake.store.query('SELECT encrypted FROM event_archive WHERE id = $1', [id]);
    expect(archived.rows).toEqual([{ encrypted: true }]);

    const tables = await intake.store.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`,
    );
    expect(tables.rows.map((t) => t.name)).toContain('event_archive');
    for (const { name } of tables.rows) {
      const { rows } = await intake.store.query(`SELECT * FROM "${name}"`);
      // bytea columns arrive as Buffers: searched as bytes, not as their hex text.
      const text = JSON.stringify(rows, (_k, v: unknown) =>
        v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
          ? Buffer.from((v as { data: number[] }).data).toString('latin1')
          : v,
      );
      expect({ table: name, plain: text.includes(subject) }).toEqual({ table: name, plain: false });
    }
  });
});
