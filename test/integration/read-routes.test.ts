import {
  adminGet,
  READ_AUTH,
  startIntake,
  TEST_ADMIN_TOKEN,
  TEST_READ_TOKEN,
  waitFor,
  type Intake,
} from '../support/harness';
import { mailgunRequest, partnerRequest, send } from '../support/requests';

/** Read routes serve personal data: only the admin token or the read-only token opens them. */
describe('read routes need a bearer token', () => {
  let intake: Intake;
  let messagePath: string;
  let customerPath: string;

  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres' });
    const mail = mailgunRequest();
    const partner = partnerRequest();
    const ids: string[] = [];
    for (const r of [mail, partner]) {
      const res = await send(intake.url, r);
      expect(res.json).toMatchObject({ status: 'accepted' });
      ids.push((res.json as { id: string }).id);
    }
    for (const id of ids) {
      await waitFor(async () => (await intake.events.get(id)).status === 'processed', 30_000, id);
    }
    const headers = (mail.json['event-data'] as { message: { headers: Record<string, string> } }).message
      .headers;
    messagePath = `/messages/${encodeURIComponent(headers['message-id']!)}`;
    customerPath = `/customers/acme/${encodeURIComponent(partner.customerId)}`;
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const strangers: [string, Record<string, string>][] = [
    ['no Authorization', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
    ['the read token as Basic', { authorization: `Basic ${TEST_READ_TOKEN}` }],
    ['the read token without a scheme', { authorization: TEST_READ_TOKEN }],
    ['the read token with a suffix', { authorization: `Bearer ${TEST_READ_TOKEN}x` }],
    ['a prefix of the admin token', { authorization: `Bearer ${TEST_ADMIN_TOKEN.slice(0, -1)}` }],
  ];

  it.each(strangers)(
    'answers 401 {"error":"unauthorized"} with %s, also where it would be 404 or 405',
    async (_w, headers) => {
      const routes: [string, string][] = [
        ['GET', messagePath],
        ['GET', customerPath],
        ['GET', '/messages/unknown@example.com'],
        ['GET', '/customers/acme/unknown'],
        ['DELETE', customerPath],
      ];
      for (const [method, p] of routes) {
        const res = await fetch(intake.url + p, { method, headers });
        expect({ route: `${method} ${p}`, status: res.status, body: await res.text() }).toEqual({
          route: `${method} ${p}`,
          status: 401,
          body: '{"error":"unauthorized"}',
        });
      }
    },
  );

  it('serves the processed data with the read token or the admin token', async () => {
    for (const authorization of [`Bearer ${TEST_READ_TOKEN}`, `bearer ${TEST_ADMIN_TOKEN}`]) {
      const msg = await fetch(intake.url + messagePath, { headers: { authorization } });
      expect(msg.status).toBe(200);
      expect(await msg.json()).toMatchObject({ state: 'delivered' });
      const cus = await fetch(intake.url + customerPath, { headers: { authorization } });
      expect(cus.status).toBe(200);
      expect(await cus.json()).toMatchObject({ partner: 'acme', deleted: false });
    }
    const unknown = await fetch(`${intake.url}/messages/unknown@example.com`, { headers: READ_AUTH });
    expect([unknown.status, await unknown.json()]).toEqual([404, { error: 'not_found' }]);
    // An id no stored message can have (NUL) is unknown, not a store error.
    const nul = await fetch(`${intake.url}/messages/a%00b`, { headers: READ_AUTH });
    expect([nul.status, await nul.json()]).toEqual([404, { error: 'not_found' }]);
  });

  it('the read token opens no admin route', async () => {
    const res = await fetch(`${intake.url}/admin/events`, { headers: READ_AUTH });
    expect([res.status, await res.text()]).toEqual([401, '{"error":"unauthorized"}']);
    expect((await adminGet(intake.url, '/admin/events')).status).toBe(200);
  });
});
