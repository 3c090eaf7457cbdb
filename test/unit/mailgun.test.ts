import { InvalidSignatureError } from '../../src/errors';
import { mailgunSignature, mailgunWebhookSchema, verifyMailgunSignature } from '../../src/sources/mailgun';

const KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;

/** A signature block signed with KEY at `timestamp`. */
const block = (timestamp = String(NOW_S), token = 'a'.repeat(50)) => ({
  timestamp,
  token,
  signature: mailgunSignature(KEY, timestamp, token),
});
const verify = (b: unknown, key = KEY, nowMs = NOW_MS) => verifyMailgunSignature(key, b, 300, nowMs);
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidSignatureError);
    return (err as InvalidSignatureError).reason;
  }
  throw new Error('expected InvalidSignatureError');
};

describe('Mailgun signature', () => {
  it('matches an independently computed HMAC-SHA256 (hex) over timestamp + token', () => {
    // echo -n '1700000000abc' | openssl dgst -sha256 -hmac key-3ax6xnjp29jd6fds4gc373sgvjxteol0
    expect(mailgunSignature(KEY, '1700000000', 'abc')).toBe(
      '3cc99a70c52c811f5d7a4c18953f4f0959a3f09141aa93082ba1ab96de4764c0',
    );
  });

  it('accepts a valid signature and returns the token', () => {
    expect(verify(block())).toEqual({ token: 'a'.repeat(50) });
  });

  it('accepts the timestamp as a JSON integer too (the same digits are signed)', () => {
    const b = block();
    expect(verify({ ...b, timestamp: NOW_S })).toEqual({ token: b.token });
    expect(refusal(() => verify({ ...b, timestamp: NOW_S + 0.5 }))).toBe(
      'missing or malformed signature block',
    );
  });

  it('accepts upper-case hex too', () => {
    const b = block();
    expect(verify({ ...b, signature: b.signature.toUpperCase() })).toEqual({ token: b.token });
  });

  it('refuses a signature made with another key', () => {
    expect(refusal(() => verify(block(), 'key-other'))).toBe('signature mismatch');
  });

  it('refuses a token changed after signing', () => {
    expect(refusal(() => verify({ ...block(), token: 'b'.repeat(50) }))).toBe('signature mismatch');
  });

  it('refuses a timestamp changed after signing', () => {
    expect(refusal(() => verify({ ...block(), timestamp: String(NOW_S - 1) }))).toBe('signature mismatch');
  });

  it('accepts timestamps at the tolerance edge and refuses stale and future ones', () => {
    expect(verify(block(String(NOW_S - 300)))).toBeDefined();
    expect(verify(block(String(NOW_S + 300)))).toBeDefined();
    expect(refusal(() => verify(block(String(NOW_S - 301))))).toBe('timestamp outside tolerance');
    expect(refusal(() => verify(block(String(NOW_S + 301))))).toBe('timestamp outside tolerance');
  });

  it.each([
    ['no block', undefined],
    ['a string block', 'sig'],
    ['a missing signature', { timestamp: String(NOW_S), token: 't' }],
    ['a signature that is not 64 hex digits', { ...block(), signature: 'zz' }],
    ['a non-numeric timestamp', { ...block(), timestamp: '17e8' }],
    ['an empty token', { ...block(), token: '' }],
  ])('refuses %s as malformed', (_what, b) => {
    expect(refusal(() => verify(b))).toBe('missing or malformed signature block');
  });
});

/** A webhook in the shape Mailgun documents (event-data with float timestamp and extra fields). */
const documented = () => ({
  signature: block(),
  'event-data': {
    id: 'CPgfbmQMTCKtHW6uIWtuVe',
    event: 'delivered',
    timestamp: 1521472262.908181,
    'log-level': 'info',
    recipient: 'alice@example.com',
    'recipient-domain': 'example.com',
    tags: ['my_tag_1', 'my_tag_2'],
    campaigns: [],
    'user-variables': { my_var_1: 'Mailgun Variable #1' },
    flags: { 'is-routed': false, 'is-authenticated': true, 'is-system-test': false, 'is-test-mode': false },
    envelope: { transport: 'smtp', sender: 'bob@sandbox.mailgun.org', targets: 'alice@example.com' },
    message: {
      headers: {
        to: 'Alice <alice@example.com>',
        'message-id': '20130503182626.18666.16540@sandbox.mailgun.org',
        from: 'Bob <bob@sandbox.mailgun.org>',
        subject: 'Test delivered webhook',
      },
      attachments: [],
      size: 111,
    },
    'delivery-status': {
      code: 250,
      message: 'OK',
      'attempt-no': 1,
      tls: true,
      'mx-host': 'smtp-in.example.com',
    },
    storage: {
      url: 'https://se.api.mailgun.net/v3/domains/sandbox/messages/message_key',
      key: 'message_key',
    },
  },
});

type Body = ReturnType<typeof documented>;
const issues = (mutate: (b: Body & Record<string, unknown>) => void) => {
  const b = documented() as Body & Record<string, unknown>;
  mutate(b);
  const r = mailgunWebhookSchema.safeParse(b);
  expect(r.success).toBe(false);
  return r.error?.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
};

describe('Mailgun webhook schema', () => {
  it('accepts the documented shape and keeps fields it does not model', () => {
    const r = mailgunWebhookSchema.safeParse(documented());
    expect(r.success).toBe(true);
    const data = r.data!['event-data'] as Record<string, unknown> & { message: Record<string, unknown> };
    expect(data.timestamp).toBe(1521472262.908181);
    expect(data['delivery-status']).toEqual(documented()['event-data']['delivery-status']);
    expect(data.storage).toBeDefined();
    expect(data.message.size).toBe(111);
    expect((data.message.headers as Record<string, unknown>).subject).toBe('Test delivered webhook');
  });

  it('accepts a failed event with severity and reason, and one without a recipient', () => {
    expect(
      mailgunWebhookSchema.safeParse({
        ...documented(),
        'event-data': {
          ...documented()['event-data'],
          event: 'failed',
          severity: 'permanent',
          reason: 'bounce',
        },
      }).success,
    ).toBe(true);
    const { recipient: _r, ...noRecipient } = documented()['event-data'];
    expect(mailgunWebhookSchema.safeParse({ ...documented(), 'event-data': noRecipient }).success).toBe(true);
  });

  it.each([
    [
      'a missing event id',
      (b: Body) => delete (b['event-data'] as Partial<Body['event-data']>).id,
      [{ path: 'event-data.id', message: 'Invalid input: expected string, received undefined' }],
    ],
    [
      'a string timestamp',
      (b: Body) => ((b['event-data'] as Record<string, unknown>).timestamp = '1521472262.9'),
      [{ path: 'event-data.timestamp', message: 'Invalid input: expected number, received string' }],
    ],
    [
      'a missing message-id',
      (b: Body) => delete (b['event-data'].message.headers as Record<string, unknown>)['message-id'],
      [
        {
          path: 'event-data.message.headers.message-id',
          message: 'Invalid input: expected string, received undefined',
        },
      ],
    ],
    [
      'an unknown severity',
      (b: Body) => ((b['event-data'] as Record<string, unknown>).severity = 'fatal'),
      [{ path: 'event-data.severity', message: 'Invalid option: expected one of "permanent"|"temporary"' }],
    ],
    [
      'a missing event-data',
      (b: Body) => delete (b as Partial<Body>)['event-data'],
      [{ path: 'event-data', message: 'Invalid input: expected object, received undefined' }],
    ],
  ])('refuses %s, naming the field path', (_what, mutate, expected) => {
    expect(issues(mutate)).toEqual(expected);
  });
});
