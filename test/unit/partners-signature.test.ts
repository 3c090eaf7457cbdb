import { Webhook } from 'standardwebhooks';
import { isServing, loadConfig } from '../../src/config';
import { InvalidJsonError, InvalidSignatureError } from '../../src/errors';
import { partnersSteps, partnerWebhookSchema } from '../../src/sources/partners';
import { buildRegistry } from '../../src/sources/registry';
import type { SourceRequest } from '../../src/sources/types';
import type { Store } from '../../src/store/store';

// The Standard Webhooks specification's published test vector.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const OLD_SECRET = 'whsec_' + Buffer.from('old-secret-0123456789abcdefghij').toString('base64');
const NEW_SECRET = 'whsec_' + Buffer.from('new-secret-0123456789abcdefghij').toString('base64');
const OTHER_SECRET = 'whsec_' + Buffer.from('unrelated-secret-0123456789abc').toString('base64');

const configWith = (partnerSecrets: string, tolerance = '300') =>
  loadConfig({ INTAKE_PARTNER_SECRETS: partnerSecrets, INTAKE_SIGNATURE_TOLERANCE_S: tolerance });

/** Runs the source's own raw-body verification, as the ingest pipeline does. */
function verify(
  config: ReturnType<typeof loadConfig>,
  body: string | Buffer,
  headers: Record<string, string>,
  partner = 'acme',
) {
  const req: SourceRequest = {
    params: { partner },
    headers,
    rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
  };
  partnersSteps.verifyRaw!(req, { config, store: {} as Store });
}

/** Freezes the clock (the library reads Date.now()) at `seconds`. */
const freezeAt = (seconds: number) => jest.spyOn(Date, 'now').mockReturnValue(seconds * 1000);

const signed = (secret: string, id: string, ts: number, body: string) => ({
  'webhook-id': id,
  'webhook-timestamp': String(ts),
  'webhook-signature': new Webhook(secret).sign(id, new Date(ts * 1000), body),
});

afterEach(() => jest.restoreAllMocks());

describe('partners source: Standard Webhooks verification', () => {
  const specHeaders = {
    'webhook-id': SPEC.id,
    'webhook-timestamp': String(SPEC.timestamp),
    'webhook-signature': SPEC.signature,
  };

  it("verifies the specification's published test vector", () => {
    freezeAt(SPEC.timestamp + 5);
    expect(() => verify(configWith(`acme=${SPEC.secret}`), SPEC.payload, specHeaders)).not.toThrow();
    // The library signs the vector identically, so the sample builder and the verifier agree.
    expect(new Webhook(SPEC.secret).sign(SPEC.id, new Date(SPEC.timestamp * 1000), SPEC.payload)).toBe(
      SPEC.signature,
    );
  });

  it('refuses the vector with a tampered body, id or timestamp', () => {
    freezeAt(SPEC.timestamp + 5);
    const config = configWith(`acme=${SPEC.secret}`);
    expect(() => verify(config, '{"test": 2432232315}', specHeaders)).toThrow(InvalidSignatureError);
    expect(() =>
      verify(config, SPEC.payload, { ...specHeaders, 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJeK' }),
    ).toThrow(InvalidSignatureError);
    expect(() =>
      verify(config, SPEC.payload, { ...specHeaders, 'webhook-timestamp': String(SPEC.timestamp + 1) }),
    ).toThrow(InvalidSignatureError);
  });

  it('refuses the vector under another secret, and a partner without secrets', () => {
    freezeAt(SPEC.timestamp + 5);
    expect(() => verify(configWith(`acme=${OTHER_SECRET}`), SPEC.payload, specHeaders)).toThrow(
      InvalidSignatureError,
    );
    expect(() => verify(configWith(`acme=${SPEC.secret}`), SPEC.payload, specHeaders, 'globex')).toThrow(
      InvalidSignatureError,
    );
  });

  it('accepts either secret during a rotation (old + new listed for one partner)', () => {
    const now = 1_700_000_000;
    freezeAt(now);
    const config = configWith(`acme=${OLD_SECRET},acme=${NEW_SECRET}`);
    const body = '{"type":"customer.deleted","data":{"id":"c1","updatedAt":"2024-01-01T00:00:00Z"}}';
    expect(() => verify(config, body, signed(OLD_SECRET, 'msg_old', now, body))).not.toThrow();
    expect(() => verify(config, body, signed(NEW_SECRET, 'msg_new', now, body))).not.toThrow();
    expect(() => verify(config, body, signed(OTHER_SECRET, 'msg_x', now, body))).toThrow(
      InvalidSignatureError,
    );
    // After the rotation ends only the new secret is listed; the old one is refused.
    const rotated = configWith(`acme=${NEW_SECRET}`);
    expect(() => verify(rotated, body, signed(OLD_SECRET, 'msg_old', now, body))).toThrow(
      InvalidSignatureError,
    );
  });

  it('accepts a header carrying several signatures when one of them matches', () => {
    const now = 1_700_000_000;
    freezeAt(now);
    const body = '{"a":1}';
    const good = signed(NEW_SECRET, 'msg_multi', now, body);
    const bad = signed(OTHER_SECRET, 'msg_multi', now, body)['webhook-signature'];
    const headers = { ...good, 'webhook-signature': `${bad} v1a,xyz ${good['webhook-signature']}` };
    expect(() => verify(configWith(`acme=${NEW_SECRET}`), body, headers)).not.toThrow();
    expect(() =>
      verify(configWith(`acme=${NEW_SECRET}`), body, { ...headers, 'webhook-signature': bad }),
    ).toThrow(InvalidSignatureError);
  });

  it('refuses stale and future timestamps outside the configured tolerance', () => {
    const now = 1_700_000_000;
    freezeAt(now);
    const config = configWith(`acme=${NEW_SECRET}`, '60');
    const body = '{"a":1}';
    expect(() => verify(config, body, signed(NEW_SECRET, 'm1', now - 59, body))).not.toThrow();
    expect(() => verify(config, body, signed(NEW_SECRET, 'm2', now + 59, body))).not.toThrow();
    expect(() => verify(config, body, signed(NEW_SECRET, 'm3', now - 61, body))).toThrow(
      InvalidSignatureError,
    );
    expect(() => verify(config, body, signed(NEW_SECRET, 'm4', now + 61, body))).toThrow(
      InvalidSignatureError,
    );
  });

  it("never accepts beyond the library's fixed 5-minute window, whatever the configured tolerance", () => {
    const now = 1_700_000_000;
    freezeAt(now);
    const config = configWith(`acme=${NEW_SECRET}`, '3600');
    const body = '{"a":1}';
    expect(() => verify(config, body, signed(NEW_SECRET, 'm1', now - 299, body))).not.toThrow();
    expect(() => verify(config, body, signed(NEW_SECRET, 'm2', now - 301, body))).toThrow(
      InvalidSignatureError,
    );
    expect(() => verify(config, body, signed(NEW_SECRET, 'm3', now + 301, body))).toThrow(
      InvalidSignatureError,
    );
  });

  it('refuses missing or malformed headers, one at a time', () => {
    const now = 1_700_000_000;
    freezeAt(now);
    const config = configWith(`acme=${NEW_SECRET}`);
    const body = '{"a":1}';
    const good = signed(NEW_SECRET, 'msg_h', now, body);
    for (const name of Object.keys(good) as (keyof typeof good)[]) {
      const { [name]: _dropped, ...rest } = good;
      expect(() => verify(config, body, rest)).toThrow(InvalidSignatureError);
    }
    // parseInt would read "<ts>abc" as <ts>; a timestamp must be plain seconds.
    expect(() => verify(config, body, { ...good, 'webhook-timestamp': `${now}abc` })).toThrow(
      InvalidSignatureError,
    );
    expect(() => verify(config, body, good)).not.toThrow();
  });

  it('answers invalid UTF-8 as invalid JSON (it cannot be signed text)', () => {
    freezeAt(1_700_000_000);
    const body = Buffer.from([0x7b, 0xff, 0x7d]);
    const headers = signed(NEW_SECRET, 'msg_u', 1_700_000_000, '{}');
    expect(() => verify(configWith(`acme=${NEW_SECRET}`), body, headers)).toThrow(InvalidJsonError);
  });
});

describe('partners source: configuration, schema and identity', () => {
  const partners = buildRegistry().find('partners')!;
  it('is configured only for listed partners while the partners source is on', () => {
    expect(isServing(configWith(`acme=${NEW_SECRET}`), partners, { partner: 'acme' })).toBe(true);
    expect(isServing(configWith(`acme=${NEW_SECRET}`), partners, { partner: 'globex' })).toBe(false);
    const off = loadConfig({ INTAKE_PARTNER_SECRETS: `acme=${NEW_SECRET}`, INTAKE_SOURCES: 'mailgun' });
    expect(isServing(off, partners, { partner: 'acme' })).toBe(false);
  });

  it('accepts both event types, keeps unknown keys, and refuses what breaks the schema', () => {
    const upsert = {
      type: 'customer.upserted',
      timestamp: '2024-01-01T00:00:01Z',
      data: { id: 'c1', updatedAt: '2024-01-01T00:00:00.123456+02:00', name: 'X', extra: { a: 1 } },
      extraTop: true,
    };
    expect(partnerWebhookSchema.parse(upsert)).toEqual(upsert);
    const del = { type: 'customer.deleted', data: { id: 'c1', updatedAt: '2024-01-01T00:00:00Z' } };
    expect(partnerWebhookSchema.parse(del)).toEqual(del);

    const bad = [
      { ...del, type: 'customer.merged' },
      { type: 'customer.deleted', data: { id: 'c1' } },
      { type: 'customer.deleted', data: { updatedAt: '2024-01-01T00:00:00Z' } },
      { type: 'customer.upserted', data: { id: 'c1', updatedAt: 'yesterday' } },
      { type: 'customer.upserted', data: { id: 'c1', updatedAt: '0000-01-01T00:00:00Z' } },
      { type: 'customer.upserted', data: { id: '', updatedAt: '2024-01-01T00:00:00Z' } },
      { type: 'customer.upserted', data: { id: 'a\u0000b', updatedAt: '2024-01-01T00:00:00Z' } },
      { ...del, timestamp: 'now' },
      { type: 'customer.deleted' },
    ];
    for (const b of bad) expect(partnerWebhookSchema.safeParse(b).success).toBe(false);
  });

  it('derives event id <partner>:<webhook-id>, entity <partner>:<customer id> and the type', () => {
    const event = partnerWebhookSchema.parse({
      type: 'customer.deleted',
      data: { id: 'cus_9', updatedAt: '2024-01-01T00:00:00Z' },
    });
    const identity = partnersSteps.identify(event, {
      params: { partner: 'acme' },
      headers: { 'webhook-id': 'msg_42', 'webhook-timestamp': '1', 'webhook-signature': 'v1,x' },
      rawBody: Buffer.alloc(0),
    });
    expect(identity).toEqual({ eventId: 'acme:msg_42', eventType: 'customer.deleted', entity: 'acme:cus_9' });
  });
});
