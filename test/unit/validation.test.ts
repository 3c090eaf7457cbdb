import { PermanentProcessingError, StoreError, toProcessingError, withoutValues } from '../../src/errors';
import { mailgunWebhookSchema } from '../../src/sources/mailgun';
import { partnerWebhookSchema } from '../../src/sources/partners';
import { isSafeId, isStorableText } from '../../src/sources/validation';
import { mailgunRequest, partnerRequest, type Json } from '../support/requests';

/** The dotted paths of the issues a schema reports for `body`; [] when it passes. */
function issuePaths(schema: typeof mailgunWebhookSchema | typeof partnerWebhookSchema, body: unknown) {
  const r = schema.safeParse(body);
  return r.success ? [] : [...new Set(r.error.issues.map((i) => i.path.map(String).join('.')))];
}

const mailgun = (mutate: (eventData: Json) => void) => {
  const { json } = mailgunRequest();
  mutate(json['event-data'] as Json);
  return json;
};
/** A valid partner body with `data` merged in after serialisation (so Infinity stays Infinity). */
const partner = (data: Json) => {
  const body = JSON.parse(partnerRequest().body as string) as Json;
  return { ...body, data: { ...(body.data as Json), ...data } };
};

describe('schemas refuse what the store or the processing cannot hold', () => {
  it('accepts the valid builders (the baseline every row below breaks once)', () => {
    expect(
      issuePaths(
        mailgunWebhookSchema,
        mailgun(() => undefined),
      ),
    ).toEqual([]);
    expect(issuePaths(partnerWebhookSchema, partner({}))).toEqual([]);
    // Paired surrogates (emoji) and ordinary non-ASCII text are fine, in ids too.
    expect(issuePaths(partnerWebhookSchema, partner({ id: 'cus_😀_é', name: 'Zoë 😀' }))).toEqual([]);
  });

  const H = 'message';
  it.each<[string, (e: Json) => void, string]>([
    [
      'NUL in message-id',
      (e) => ((e[H] as Json).headers = { 'message-id': 'a\u0000b@x' }),
      'event-data.message.headers.message-id',
    ],
    ['timestamp 1.2e29', (e) => (e.timestamp = 1.2e29), 'event-data.timestamp'],
    ['timestamp 1.8e308 (Infinity)', (e) => (e.timestamp = Infinity), 'event-data.timestamp'],
    ['timestamp NaN', (e) => (e.timestamp = NaN), 'event-data.timestamp'],
    ['bidi override in the event id', (e) => (e.id = 'abc\u202edef'), 'event-data.id'],
    ['zero-width BOM in the event id', (e) => (e.id = '\ufeffabc'), 'event-data.id'],
    [
      'zero-width space in message-id',
      (e) => ((e[H] as Json).headers = { 'message-id': 'a\u200b@x' }),
      'event-data.message.headers.message-id',
    ],
    ['bidi override in the event type', (e) => (e.event = 'deli\u202evered'), 'event-data.event'],
    ['lone surrogate in reason', (e) => (e.reason = 'bad \ud800'), 'event-data.reason'],
    ['NUL in recipient', (e) => (e.recipient = 'a\u0000@x'), 'event-data.recipient'],
    [
      'NUL in an unnamed nested field',
      (e) => (e['user-variables'] = { note: 'x\u0000' }),
      'event-data.user-variables.note',
    ],
    [
      'lone surrogate in a key',
      (e) => (e['user-variables'] = { ['k\udc00']: 1 }),
      'event-data.user-variables.k\udc00',
    ],
  ])('mailgun: %s → 422 at its path', (_what, mutate, path) => {
    expect(issuePaths(mailgunWebhookSchema, mailgun(mutate))).toContain(path);
  });

  it.each<[string, Json, string]>([
    ['lone surrogate as the customer id', { id: '\ud800' }, 'data.id'],
    ['lone surrogate in the name', { name: 'Jane \ud800' }, 'data.name'],
    ['NUL in the name', { name: 'Jane\u0000' }, 'data.name'],
    ['bidi override in the customer id', { id: 'cus_\u202e1' }, 'data.id'],
    ['zero-width no-break space in the customer id', { id: 'cus_\ufeff1' }, 'data.id'],
    ['a non-finite number', { score: Infinity }, 'data.score'],
    ['NUL in a nested key', { address: { ['li\u0000ne']: 'x' } }, 'data.address.li\u0000ne'],
  ])('partners: %s → 422 at its path', (_what, data, path) => {
    expect(issuePaths(partnerWebhookSchema, partner(data))).toContain(path);
  });

  it('classifies text and ids by what they hold', () => {
    expect(isStorableText('plain é 😀')).toBe(true);
    expect(isStorableText('\ud83d')).toBe(false);
    expect(isStorableText('\ude00x')).toBe(false);
    expect(isSafeId('msg_😀')).toBe(true);
    for (const c of ['\u0000', '\u0007', '\u202e', '\u2066', '\u200b', '\ufeff', '\u2028', '\ud800'])
      expect(isSafeId(`a${c}b`)).toBe(false);
  });
});

/** A PostgreSQL error as `pg` raises it: message and detail quote the value. */
function pgError(code: string, fields: Record<string, string> = {}) {
  return Object.assign(new Error(`invalid input syntax for type integer: "Jane Secret"`), {
    name: 'error',
    code,
    severity: 'ERROR',
    detail: 'Failing row contains (Jane Secret).',
    ...fields,
  });
}

describe('store errors: reduced to code, constraint and column; data errors permanent', () => {
  it.each(['22P02', '22P05', '22021', '22008', '23514', '23502', '23503'])('%s is permanent', (code) => {
    const e = toProcessingError(pgError(code, { table: 'customers', column: 'data', constraint: 'c1' }));
    expect(e).toBeInstanceOf(PermanentProcessingError);
    expect(e.message).toBe(
      `the store refused the event's data: store error SQLSTATE ${code} (table customers, column data, constraint c1)`,
    );
    expect(JSON.stringify({ m: e.message, s: e.stack, c: String(e.cause) })).not.toContain('Secret');
  });

  it('a unique key the handlers expect (a racing attempt) is retried; any other unique key parks', () => {
    const race = toProcessingError(pgError('23505', { constraint: 'processed_events_pkey' }));
    expect(race).toBeInstanceOf(StoreError);
    expect(race).not.toBeInstanceOf(PermanentProcessingError);
    expect(toProcessingError(pgError('23505', { constraint: 'some_other_key' }))).toBeInstanceOf(
      PermanentProcessingError,
    );
  });

  it('other store errors stay retryable and lose their text too; other errors pass unchanged', () => {
    const e = toProcessingError(pgError('40001'));
    expect(e).toBeInstanceOf(StoreError);
    expect(e.message).toBe('store error SQLSTATE 40001');
    expect(e.stack).not.toContain('Secret');
    const plain = new Error('handler bug');
    expect(toProcessingError(plain)).toBe(plain);
    // Node's own errors have codes too (EPIPE is five letters) but no severity: not store errors.
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    expect(withoutValues(epipe)).toBe(epipe);
  });
});
