import { randomBytes } from 'node:crypto';
import { partnerExample, type PartnerExampleOptions } from '../../src/samples';
import {
  capturedLogs,
  post,
  READ_AUTH,
  startIntake,
  TEST_PARTNER_SECRET,
  waitFor,
  type Intake,
} from '../support/harness';

type Send = Omit<PartnerExampleOptions, 'partner' | 'secret'> & { partner?: string; secret?: string };

const uid = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;
const at = (minute: number) => new Date(Date.UTC(2024, 4, 1, 10, minute)).toISOString();

describe('partners end to end on the real Temporal dev server (postgres store)', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres' });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const example = (o: Send) =>
    partnerExample({ partner: 'acme', secret: TEST_PARTNER_SECRET, webhookId: uid('msg'), ...o });

  const processed = (id: string) =>
    waitFor(async () => (await intake.events.get(id)).status === 'processed', 30_000, `${id} processed`);

  /** Sends one event, expects 202, and waits until it is processed. */
  async function deliver(o: Send): Promise<string> {
    const req = example(o);
    const res = await post(intake.url, req);
    expect(res.status).toBe(202);
    const id = res.json.id as string;
    await processed(id);
    return id;
  }

  const customer = async (id: string, partner = 'acme') => {
    const res = await fetch(`${intake.url}/customers/${partner}/${encodeURIComponent(id)}`, {
      headers: READ_AUTH,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('accepts a signed upsert with 202, processes it, and serves the customer', async () => {
    const customerId = uid('cus');
    const webhookId = uid('msg');
    const updatedAt = at(1);
    const res = await post(
      intake.url,
      example({ webhookId, customerId, updatedAt, fields: { name: 'Ada Lovelace', tier: 'gold' } }),
    );
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ id: `partners:acme:${webhookId}`, status: 'accepted' });
    await processed(`partners:acme:${webhookId}`);
    const view = await intake.events.get(`partners:acme:${webhookId}`);
    expect(view).toMatchObject({ source: 'partners', eventType: 'customer.upserted', attempts: 1 });

    const got = await customer(customerId);
    expect(got.status).toBe(200);
    expect(got.json).toEqual({
      partner: 'acme',
      id: customerId,
      deleted: false,
      updatedAt,
      data: expect.objectContaining({ id: customerId, updatedAt, name: 'Ada Lovelace', tier: 'gold' }),
    });
  });

  it('answers a redelivery (same webhook-id, even re-signed later) with 200 duplicate, applied once', async () => {
    const webhookId = uid('msg');
    const customerId = uid('cus');
    const first = example({ webhookId, customerId, updatedAt: at(2) });
    expect((await post(intake.url, first)).status).toBe(202);
    const again = await post(intake.url, first);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ id: `partners:acme:${webhookId}`, status: 'duplicate' });
    await processed(`partners:acme:${webhookId}`);
    // A provider retry re-signs with a new timestamp but keeps the webhook-id.
    const resigned = example({
      webhookId,
      customerId,
      updatedAt: at(2),
      timestamp: Math.floor(Date.now() / 1000) - 5,
    });
    expect(resigned.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
    const third = await post(intake.url, resigned);
    expect(third.json).toEqual({ id: `partners:acme:${webhookId}`, status: 'duplicate' });
    const ledger = await intake.store.query('SELECT count(*)::int AS n FROM processed_events WHERE id = $1', [
      `partners:acme:${webhookId}`,
    ]);
    expect(ledger.rows[0]?.n).toBe(1);
  });

  it('ends in the newest state when upserts arrive in order', async () => {
    const customerId = uid('cus');
    for (const [minute, name] of [
      [1, 'v1'],
      [2, 'v2'],
      [3, 'v3'],
    ] as const) {
      await deliver({ customerId, updatedAt: at(minute), fields: { name } });
    }
    const got = await customer(customerId);
    expect(got.json).toMatchObject({ deleted: false, updatedAt: at(3), data: { name: 'v3' } });
  });

  it('ends in the newest state when upserts arrive out of order', async () => {
    const customerId = uid('cus');
    for (const [minute, name] of [
      [3, 'v3'],
      [1, 'v1'],
      [2, 'v2'],
    ] as const) {
      await deliver({ customerId, updatedAt: at(minute), fields: { name } });
    }
    const got = await customer(customerId);
    expect(got.json).toMatchObject({ deleted: false, updatedAt: at(3), data: { name: 'v3' } });
  });

  it('keeps a tombstone against an older upsert, and resurrects only with a newer one', async () => {
    const customerId = uid('cus');
    await deliver({ customerId, updatedAt: at(1), fields: { name: 'v1' } });
    await deliver({ customerId, type: 'customer.deleted', updatedAt: at(3) });
    expect((await customer(customerId)).json).toEqual({
      partner: 'acme',
      id: customerId,
      deleted: true,
      updatedAt: at(3),
      data: null,
    });

    // An older upsert arriving late does not bring the customer back.
    await deliver({ customerId, updatedAt: at(2), fields: { name: 'late' } });
    expect((await customer(customerId)).json).toMatchObject({ deleted: true, updatedAt: at(3), data: null });

    // A newer upsert does.
    await deliver({ customerId, updatedAt: at(4), fields: { name: 'back' } });
    expect((await customer(customerId)).json).toMatchObject({
      deleted: false,
      updatedAt: at(4),
      data: { name: 'back' },
    });
  });

  it('refuses a delete older than the stored upsert, and a delete of an unseen customer is a tombstone', async () => {
    const customerId = uid('cus');
    await deliver({ customerId, updatedAt: at(5), fields: { name: 'v5' } });
    await deliver({ customerId, type: 'customer.deleted', updatedAt: at(4) });
    expect((await customer(customerId)).json).toMatchObject({ deleted: false, data: { name: 'v5' } });

    const ghost = uid('cus');
    await deliver({ customerId: ghost, type: 'customer.deleted', updatedAt: at(1) });
    await deliver({ customerId: ghost, updatedAt: at(0), fields: { name: 'older' } });
    expect((await customer(ghost)).json).toMatchObject({ deleted: true, data: null });
  });

  it('breaks an updatedAt tie deterministically: the delete wins whatever the order', async () => {
    const a = uid('cus');
    await deliver({ customerId: a, updatedAt: at(7), fields: { name: 'tie' } });
    await deliver({ customerId: a, type: 'customer.deleted', updatedAt: at(7) });
    const b = uid('cus');
    await deliver({ customerId: b, type: 'customer.deleted', updatedAt: at(7) });
    await deliver({ customerId: b, updatedAt: at(7), fields: { name: 'tie' } });
    expect((await customer(a)).json).toMatchObject({ deleted: true, data: null });
    expect((await customer(b)).json).toMatchObject({ deleted: true, data: null });
  });

  it('refuses unknown partners, bad signatures and schema violations, starting no workflow', async () => {
    const customerId = uid('cus');
    const unknown = await post(
      intake.url,
      partnerExample({ partner: 'globex', secret: TEST_PARTNER_SECRET, customerId }),
    );
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'unknown_source' });

    const good = example({ customerId });
    const tampered = await post(intake.url, { ...good, body: good.body.replace('Jane', 'John') });
    expect(tampered.status).toBe(401);
    expect(tampered.json).toEqual({ error: 'invalid_signature' });

    const stale = await post(
      intake.url,
      example({ customerId, timestamp: Math.floor(Date.now() / 1000) - 3600 }),
    );
    expect(stale.status).toBe(401);
    expect(stale.json).toEqual({ error: 'invalid_signature' });

    const { 'webhook-signature': _s, ...unsigned } = good.headers;
    const missing = await post(intake.url, { ...good, headers: unsigned });
    expect(missing.status).toBe(401);
    expect(missing.json).toEqual({ error: 'invalid_signature' });

    const invalid = await post(intake.url, example({ customerId, updatedAt: 'last tuesday' }));
    expect(invalid.status).toBe(422);
    expect(invalid.json).toMatchObject({ error: 'validation_failed', issues: [{ path: 'data.updatedAt' }] });

    // Then one valid event for the same customer: once it is visible, it must be the only workflow.
    await deliver({ customerId, updatedAt: at(1) });
    const query = `IntakeEntity IN ('acme:${customerId}', 'globex:${customerId}')`;
    const count = await waitFor(
      async () => {
        const n = (await intake.client.workflow.count(query)).count;
        return n > 0 ? n : undefined;
      },
      30_000,
      'visible workflow',
    );
    expect(count).toBe(1);
  });

  it('answers 404 not_found for a customer no event named, and 405 for a wrong method', async () => {
    const got = await customer(uid('cus'));
    expect(got.status).toBe(404);
    expect(got.json).toEqual({ error: 'not_found' });
    const wrong = await fetch(`${intake.url}/customers/acme/x`, { method: 'DELETE', headers: READ_AUTH });
    expect(wrong.status).toBe(405);
    expect(await wrong.json()).toEqual({ error: 'method_not_allowed' });
  });

  it('accepts both the old and the new secret while a partner is listed twice (rotation)', async () => {
    const oldSecret = 'whsec_' + randomBytes(24).toString('base64');
    const newSecret = 'whsec_' + randomBytes(24).toString('base64');
    const rotating = await startIntake({
      store: 'postgres',
      shareWith: intake,
      worker: false,
      env: { INTAKE_PARTNER_SECRETS: `acme=${oldSecret},acme=${newSecret}` },
    });
    try {
      const viaOld = await post(rotating.url, example({ secret: oldSecret }));
      const viaNew = await post(rotating.url, example({ secret: newSecret }));
      expect(viaOld.status).toBe(202);
      expect(viaNew.status).toBe(202);
      await processed(viaOld.json.id as string);
      await processed(viaNew.json.id as string);
      const other = await post(rotating.url, example({ secret: TEST_PARTNER_SECRET }));
      expect(other.status).toBe(401);
    } finally {
      await rotating.stop();
    }
  });

  it('writes no customer field value to the logs', () => {
    expect(capturedLogs.length).toBeGreaterThan(0);
    for (const value of ['Ada Lovelace', 'jane.doe@example.com', 'POL-000123', TEST_PARTNER_SECRET]) {
      expect(capturedLogs.filter((line) => line.includes(value))).toEqual([]);
    }
  });
});
