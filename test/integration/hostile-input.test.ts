import { WorkflowNotFoundError } from '@temporalio/client';
import { gzipSync } from 'node:zlib';
import { ID_MESSAGE } from '../../src/sources/validation';
import { bindMailgunToken } from '../../src/store/token-bindings-repo';
import { startIntake, TEST_ADMIN_TOKEN, waitFor, type Intake } from '../support/harness';
import {
  mailgunRequest,
  partnerRequest,
  rawRequest,
  send,
  type Json,
  type TestRequest,
} from '../support/requests';

/** Small enough that "too large" bodies are cheap; a valid event is ~1 KiB. */
const MAX_BODY = 64 * 1024;

const INVALID_JSON = { error: 'invalid_json' };
const BAD_SIGNATURE = { error: 'invalid_signature' };
const UNKNOWN_SOURCE = { error: 'unknown_source' };
const TOO_LARGE = { error: 'payload_too_large' };
const NOT_JSON_TYPE = { error: 'unsupported_media_type', expected: 'application/json' };
const METHOD = { error: 'method_not_allowed' };
const HEADERS_TOO_LARGE = { error: 'headers_too_large' };
const invalid = (...issues: { path: string; message: string }[]) => ({ error: 'validation_failed', issues });

/** Sets a value at a dotted path inside a built body (after signing). */
const setPath = (body: Json, dotted: string, value: unknown) => {
  const keys = dotted.split('.');
  const last = keys.pop() as string;
  let o = body;
  for (const k of keys) o = o[k] as Json;
  if (value === undefined) delete o[last];
  else o[last] = value;
};
const mailgunWith = (dotted: string, value: unknown) =>
  mailgunRequest({ mutate: (b) => setPath(b, dotted, value) });
/** A valid Mailgun body with `fragment` spliced in as the first member of event-data. */
const mailgunSplice = (fragment: string) => {
  const r = mailgunRequest();
  return { ...r, body: (r.body as string).replace('"event-data":{', `"event-data":{${fragment},`) };
};
/** A partner event whose signed text has `fragment` spliced in as the first member of data. */
const partnerSplice = (fragment: string) => {
  const text = JSON.stringify({
    type: 'customer.upserted',
    data: { id: 'cus_splice', updatedAt: new Date().toISOString() },
  });
  return partnerRequest({ bodyText: text.replace('"data":{', `"data":{${fragment},`) });
};
/** `n` harmless header lines. */
const padHeaders = (n: number) => Array.from({ length: n }, (_, i) => `X-Pad-${i}: ${i}\r\n`).join('');
/** A signed Mailgun request as raw HTTP, with `extra` header lines after its own. */
const rawMailgun = (extra: string) => {
  const body = Buffer.from(mailgunRequest().body as string);
  return `POST /webhooks/mailgun HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body.toString()}`;
};
const nested = (depth: number) => '{"n":'.repeat(depth) + '1' + '}'.repeat(depth);
const hoursAgo = (h: number) => Math.floor(Date.now() / 1000) - h * 3600;

/** What one row checks: the request, or a function that sends it itself (raw socket, store setup). */
interface Row {
  name: string;
  request?: () => TestRequest;
  run?: (intake: Intake) => Promise<{ status: number; json: unknown; headers: Record<string, string> }>;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const rows: Row[] = [
  // Content type: application/json, optionally charset=utf-8; nothing else.
  {
    name: 'mailgun: text/plain',
    request: () => mailgunRequest({ contentType: 'text/plain' }),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'mailgun: no content type',
    request: () => mailgunRequest({ contentType: null }),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'mailgun: charset=latin1',
    request: () => mailgunRequest({ contentType: 'application/json; charset=latin1' }),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'mailgun: form-encoded (the legacy webhook format)',
    request: () => mailgunRequest({ contentType: 'application/x-www-form-urlencoded' }),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'mailgun: multipart',
    request: () => mailgunRequest({ contentType: 'multipart/form-data; boundary=x' }),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'mailgun: application/jsonp',
    request: () => mailgunRequest({ contentType: 'application/jsonp' }),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'partners: text/plain',
    request: () => partnerRequest({ contentType: 'text/plain' }),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'partners: charset=iso-8859-1',
    request: () => partnerRequest({ contentType: 'application/json; charset=iso-8859-1' }),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'partners: no content type',
    request: () => partnerRequest({ contentType: null }),
    status: 415,
    body: NOT_JSON_TYPE,
  },

  {
    name: 'mailgun: charset = utf-16 (spaces around =)',
    request: () => mailgunRequest({ contentType: 'application/json; charset = utf-16' }),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  // Duplicates past Node's old header-count cut-off (100), and transfer codings Node does not undo.
  {
    name: 'mailgun: a second Content-Type after 130 other headers',
    run: async (intake) =>
      toRow(await rawRequest(intake.url, [rawMailgun(padHeaders(130) + 'Content-Type: text/plain\r\n')])),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'mailgun: a second Content-Encoding after 110 other headers',
    run: async (intake) =>
      toRow(
        await rawRequest(intake.url, [
          rawMailgun('Content-Encoding: identity\r\n' + padHeaders(110) + 'Content-Encoding: gzip\r\n'),
        ]),
      ),
    status: 415,
    body: NOT_JSON_TYPE,
  },
  {
    name: 'mailgun: Transfer-Encoding: gzip, chunked',
    run: async (intake) => {
      const { body } = mailgunRequest();
      const gz = gzipSync(body as string);
      const head =
        'POST /webhooks/mailgun HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n';
      return toRow(
        await rawRequest(intake.url, [head, `${gz.length.toString(16)}\r\n`, gz, '\r\n0\r\n\r\n']),
      );
    },
    status: 415,
    body: NOT_JSON_TYPE,
  },

  // Bodies that are not one JSON object in UTF-8.
  {
    name: 'mailgun: empty body',
    request: () => mailgunRequest({ rawBody: '' }),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: truncated JSON',
    request: () => {
      const r = mailgunRequest();
      return { ...r, body: (r.body as string).slice(0, -1) };
    },
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: trailing garbage',
    request: () => {
      const r = mailgunRequest();
      return { ...r, body: `${r.body as string}x` };
    },
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: top-level array',
    request: () => {
      const r = mailgunRequest();
      return { ...r, body: `[${r.body as string}]` };
    },
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: invalid UTF-8 inside a string',
    request: () => {
      const r = mailgunRequest();
      const bytes = Buffer.from((r.body as string).replace('"Welcome"', '"Wel#come"'));
      bytes[bytes.indexOf('#')] = 0xff; // a byte that never occurs in UTF-8
      return { ...r, body: bytes };
    },
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: UTF-16 encoded',
    request: () => {
      const r = mailgunRequest();
      return { ...r, body: Buffer.from(r.body as string, 'utf16le') };
    },
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: duplicate top-level key',
    request: () => {
      const r = mailgunRequest();
      return { ...r, body: (r.body as string).replace('{"signature"', '{"event-data":{},"signature"') };
    },
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: duplicate key in event-data',
    request: () => mailgunSplice('"event":"opened"'),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: duplicate key spelled with an escape',
    request: () => mailgunSplice('"\\u0069d":"other-id"'),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: __proto__ key',
    request: () => mailgunSplice('"__proto__":{"polluted":true}'),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: constructor.prototype keys',
    request: () => mailgunSplice('"constructor":{"prototype":{"polluted":true}}'),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: nesting deeper than 32',
    request: () => mailgunSplice(`"deep":${nested(40)}`),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'mailgun: 20 000 open brackets',
    request: () => mailgunSplice(`"deep":${'['.repeat(20_000)}`),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'partners: empty body, correctly signed',
    request: () => partnerRequest({ bodyText: '' }),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'partners: invalid UTF-8',
    request: () => partnerRequest({ sendBody: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) }),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'partners: duplicate key, correctly signed',
    request: () => partnerSplice('"id":"cus_other"'),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'partners: __proto__ key, correctly signed',
    request: () => partnerSplice('"__proto__":{"polluted":true}'),
    status: 400,
    body: INVALID_JSON,
  },
  {
    name: 'partners: nesting deeper than 32, correctly signed',
    request: () => partnerSplice(`"deep":${nested(40)}`),
    status: 400,
    body: INVALID_JSON,
  },

  // Size: the limit holds whatever the headers claim.
  {
    name: 'mailgun: body over the limit',
    request: () => mailgunWith('event-data.user-variables', { pad: 'x'.repeat(MAX_BODY) }),
    status: 413,
    body: TOO_LARGE,
  },
  {
    name: 'partners: body over the limit, correctly signed',
    request: () => partnerRequest({ data: { notes: 'x'.repeat(MAX_BODY) } }),
    status: 413,
    body: TOO_LARGE,
  },
  {
    name: 'mailgun: chunked body without Content-Length that never ends, over the limit',
    run: async (intake) => {
      const head =
        'POST /webhooks/mailgun HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
      const chunk = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
      // 5 × 16 KiB > 64 KiB, and no terminating chunk: the answer must come while streaming.
      return toRow(await rawRequest(intake.url, [head, chunk, chunk, chunk, chunk, chunk]));
    },
    status: 413,
    body: TOO_LARGE,
  },
  {
    name: 'mailgun: Content-Length claiming more than the limit, small body',
    run: async (intake) => {
      const { body } = mailgunRequest();
      const head = `POST /webhooks/mailgun HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY * 16}\r\n\r\n`;
      return toRow(await rawRequest(intake.url, [head, body as string]));
    },
    status: 413,
    body: TOO_LARGE,
  },

  {
    name: 'mailgun: gzip-compressed body',
    request: () => {
      const r = mailgunRequest();
      return {
        ...r,
        headers: { ...r.headers, 'content-encoding': 'gzip' },
        body: gzipSync(r.body as string),
      };
    },
    status: 415,
    body: NOT_JSON_TYPE,
  },

  // Signatures.
  {
    name: 'mailgun: signed with another key',
    request: () => mailgunRequest({ key: 'key-not-the-right-one' }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'mailgun: token changed after signing',
    request: () => mailgunWith('signature.token', 'f'.repeat(50)),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'mailgun: stale timestamp',
    request: () => mailgunRequest({ timestamp: hoursAgo(1) }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'mailgun: future timestamp',
    request: () => mailgunRequest({ timestamp: hoursAgo(-1) }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'mailgun: no signature block',
    request: () => mailgunWith('signature', undefined),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'mailgun: signature not hex',
    request: () => mailgunWith('signature.signature', 'not-hex'),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'mailgun: token already bound to another event id',
    run: async (intake) => {
      const req = mailgunRequest();
      await bindMailgunToken(intake.store, req.token, 'another-event-id', 600);
      return toRow(await send(intake.url, req));
    },
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'partners: signed with another secret',
    request: () => partnerRequest({ secret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD' }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'partners: body changed after signing',
    request: () => {
      const r = partnerRequest();
      return { ...r, body: (r.body as string).replace('Jane Doe', 'John Doe') };
    },
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'partners: webhook-id changed after signing',
    request: () => partnerRequest({ headers: { 'webhook-id': 'msg_other' } }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'partners: webhook-timestamp changed after signing',
    request: () =>
      partnerRequest({ headers: { 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 1) } }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'partners: stale timestamp, correctly signed',
    request: () => partnerRequest({ timestamp: hoursAgo(1) }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'partners: future timestamp, correctly signed',
    request: () => partnerRequest({ timestamp: hoursAgo(-1) }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'partners: no webhook-signature',
    request: () => partnerRequest({ headers: { 'webhook-signature': undefined } }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'partners: no webhook-id',
    request: () => partnerRequest({ headers: { 'webhook-id': undefined } }),
    status: 401,
    body: BAD_SIGNATURE,
  },
  {
    name: 'partners: unknown signature version',
    request: () => {
      const r = partnerRequest();
      return {
        ...r,
        headers: {
          ...r.headers,
          'webhook-signature': r.headers['webhook-signature']!.replace(/^v1,/, 'v2,'),
        },
      };
    },
    status: 401,
    body: BAD_SIGNATURE,
  },

  // Schema violations, with the field path.
  {
    name: 'mailgun: missing event id',
    request: () => mailgunWith('event-data.id', undefined),
    status: 422,
    body: invalid({ path: 'event-data.id', message: 'Invalid input: expected string, received undefined' }),
  },
  {
    name: 'mailgun: timestamp as a string',
    request: () => mailgunWith('event-data.timestamp', '1521472262.9'),
    status: 422,
    body: invalid({
      path: 'event-data.timestamp',
      message: 'Invalid input: expected number, received string',
    }),
  },
  {
    name: 'mailgun: missing message-id',
    request: () => mailgunWith('event-data.message.headers.message-id', undefined),
    status: 422,
    body: invalid({
      path: 'event-data.message.headers.message-id',
      message: 'Invalid input: expected string, received undefined',
    }),
  },
  {
    name: 'mailgun: unknown severity',
    request: () => mailgunWith('event-data.severity', 'fatal'),
    status: 422,
    body: invalid({
      path: 'event-data.severity',
      message: 'Invalid option: expected one of "permanent"|"temporary"',
    }),
  },
  {
    name: 'mailgun: event id with a space',
    request: () => mailgunWith('event-data.id', 'two words'),
    status: 422,
    body: invalid({ path: 'id', message: 'event id must be 1-200 printable ASCII characters' }),
  },
  {
    name: 'partners: unknown event type',
    request: () => partnerRequest({ type: 'customer.merged' }),
    status: 422,
    body: invalid({
      path: 'type',
      message: "Invalid discriminator value. Expected 'customer.upserted' | 'customer.deleted'",
    }),
  },
  {
    name: 'partners: updatedAt not a date',
    request: () => partnerRequest({ data: { updatedAt: 'yesterday' } }),
    status: 422,
    body: invalid({ path: 'data.updatedAt', message: 'Invalid ISO datetime' }),
  },
  {
    name: 'partners: customer id with a control character',
    request: () => partnerRequest({ data: { id: 'cus_\n1' } }),
    status: 422,
    body: invalid({ path: 'data.id', message: ID_MESSAGE }),
  },
  {
    name: 'partners: webhook-id with a space',
    request: () => partnerRequest({ webhookId: 'msg two' }),
    status: 422,
    body: invalid({ path: 'id', message: 'event id must be 1-200 printable ASCII characters' }),
  },

  // Routing and methods.
  {
    name: 'unknown source',
    request: () => ({ ...mailgunRequest(), path: '/webhooks/sendgrid' }),
    status: 404,
    body: UNKNOWN_SOURCE,
  },
  {
    name: 'no source at all',
    request: () => ({ ...mailgunRequest(), path: '/webhooks' }),
    status: 404,
    body: UNKNOWN_SOURCE,
  },
  {
    name: 'mailgun: extra path segment',
    request: () => ({ ...mailgunRequest(), path: '/webhooks/mailgun/extra' }),
    status: 404,
    body: UNKNOWN_SOURCE,
  },
  {
    name: "partners: unknown partner, signed with acme's secret",
    request: () => partnerRequest({ partner: 'globex' }),
    status: 404,
    body: UNKNOWN_SOURCE,
  },
  {
    name: 'partners: no partner segment',
    request: () => ({ ...partnerRequest(), path: '/webhooks/partners' }),
    status: 404,
    body: UNKNOWN_SOURCE,
  },
  {
    name: 'partners: malformed percent-encoding in the partner',
    request: () => partnerRequest({ partner: '%E0%A4%A' }),
    status: 400,
    body: { error: 'bad_request', message: 'malformed request path' },
  },
  {
    name: 'mailgun: GET',
    request: () => ({ method: 'GET', path: '/webhooks/mailgun', headers: {} }),
    status: 405,
    body: METHOD,
    headers: { allow: 'POST' },
  },
  {
    name: 'mailgun: DELETE',
    request: () => ({ ...mailgunRequest(), method: 'DELETE' }),
    status: 405,
    body: METHOD,
    headers: { allow: 'POST' },
  },
  {
    name: 'partners: PUT',
    request: () => ({ ...partnerRequest(), method: 'PUT' }),
    status: 405,
    body: METHOD,
    headers: { allow: 'POST' },
  },

  // Headers over Node's limit (16 KiB in total): Node's parser refuses them before express runs.
  {
    name: 'mailgun: a 20 KiB header',
    request: () => {
      const r = mailgunRequest();
      return { ...r, headers: { ...r.headers, 'x-pad': 'x'.repeat(20 * 1024) } };
    },
    status: 431,
    body: HEADERS_TOO_LARGE,
  },
  {
    name: 'partners: a 20 KiB webhook-signature',
    request: () => partnerRequest({ headers: { 'webhook-signature': `v1,${'A'.repeat(20 * 1024)}` } }),
    status: 431,
    body: HEADERS_TOO_LARGE,
  },
];

function toRow(r: {
  status: number;
  json?: unknown;
  body?: string;
  headers: Headers | Record<string, string>;
}) {
  const headers = r.headers instanceof Headers ? Object.fromEntries(r.headers.entries()) : r.headers;
  let json = r.json;
  if (json === undefined && r.body !== undefined) {
    try {
      json = JSON.parse(r.body);
    } catch {
      json = r.body;
    }
  }
  return { status: r.status, json, headers };
}

describe('hostile input: every bad request gets its exact answer and starts nothing', () => {
  let intake: Intake;
  const countWorkflows = async () =>
    (await intake.client.workflow.count(`TaskQueue="${intake.config.temporal.taskQueue}"`)).count;

  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      worker: false,
      // An oversize body is drained before its 413; one that stalls is answered after this.
      env: { INTAKE_MAX_BODY_BYTES: String(MAX_BODY), INTAKE_HTTP_BODY_TIMEOUT_MS: '2000' },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it(`answers a table of ${rows.length} bad requests exactly, with no workflow started`, async () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
    const before = await countWorkflows();
    const failures: string[] = [];
    for (const row of rows) {
      const got = row.run ? await row.run(intake) : toRow(await send(intake.url, row.request!()));
      const problems: string[] = [];
      if (got.status !== row.status) problems.push(`status ${got.status}, want ${row.status}`);
      if (JSON.stringify(got.json) !== JSON.stringify(row.body))
        problems.push(`body ${JSON.stringify(got.json)}, want ${JSON.stringify(row.body)}`);
      if (!/^application\/json/.test(got.headers['content-type'] ?? '')) problems.push('not JSON');
      for (const [k, v] of Object.entries(row.headers ?? {}))
        if (got.headers[k] !== v) problems.push(`header ${k}: ${got.headers[k]}, want ${v}`);
      if (problems.length) failures.push(`${row.name}: ${problems.join('; ')}`);
    }
    expect(failures).toEqual([]);
    // Nothing leaked into the prototype of every object (the API runs in this process).
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    // The count is live: one valid event (charset=utf-8 is fine) moves it by exactly one.
    const ok = mailgunRequest({ contentType: 'application/json; charset=utf-8' });
    const accepted = await send(intake.url, ok);
    expect(accepted.status).toBe(200);
    expect(accepted.json).toEqual({ id: `mailgun:${ok.eventId}`, status: 'accepted' });
    await waitFor(
      async () => (await countWorkflows()) === before + 1,
      30_000,
      'the valid event to be counted',
    );
    expect(await countWorkflows()).toBe(before + 1);
  });

  it('takes an empty Content-Encoding as identity (no coding named), and sees headers past #100', async () => {
    const req = mailgunRequest();
    const res = await send(intake.url, { ...req, headers: { ...req.headers, 'content-encoding': '' } });
    expect([res.status, res.json]).toEqual([200, { id: `mailgun:${req.eventId}`, status: 'accepted' }]);
    // 150 harmless headers are fine; what Intake checks is seen wherever it is.
    const padded = await rawRequest(intake.url, [rawMailgun(padHeaders(150))]);
    expect(padded.status).toBe(200);
  });

  it('answers a body shorter than its Content-Length claimed with 400 and closes the connection', async () => {
    const { body, eventId } = mailgunRequest();
    // The server reads 10 bytes as the body, then the rest of the JSON as the next request.
    const head =
      'POST /webhooks/mailgun HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n';
    const res = await rawRequest(intake.url, [head + (body as string)]);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    // Which refusal wins depends on timing: the truncated body (invalid_json) or the garbage after it.
    expect([INVALID_JSON, { error: 'bad_request' }]).toContainEqual(JSON.parse(res.body));
    // Its workflow, by id (a visibility count lags the earlier tests' starts: it once read 2, then 3).
    await expect(intake.client.workflow.getHandle(`mailgun:${eventId}`).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });

  it('never answers with a stack trace or an internal message', async () => {
    const res = await send(intake.url, mailgunSplice('"deep":' + nested(40)));
    expect(res.text).toBe('{"error":"invalid_json"}');
    const path = await send(intake.url, { method: 'GET', path: '/%E0%A4%A', headers: {} });
    expect(path.status).toBe(404);
    expect(path.text).toBe('{"error":"not_found"}');
  });
});

describe('admin routes need the bearer token, also where they answer 404 or 405', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres', worker: false });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const routes: [string, string][] = [
    ['GET', '/events/mailgun:x'],
    ['POST', '/events/mailgun:x/retry'],
    ['POST', '/events/mailgun:x/discard'],
    ['POST', '/admin/retry-parked?source=mailgun'],
    ['GET', '/admin/events'],
    ['GET', '/admin/issues?source=mailgun'],
    ['GET', '/admin/redrives/redrive:mailgun:x'],
    ['POST', '/admin/redrives/redrive:mailgun:x/cancel'],
    ['DELETE', '/events/mailgun:x'], // 405 with the token
    ['GET', '/events/mailgun:x/retry'], // 405 with the token
    ['PUT', '/admin/retry-parked'], // 405 with the token
    ['GET', '/admin/nothing-here'], // 404 with the token
    ['GET', '/events'], // 404 with the token
  ];
  const authorizations: [string, Record<string, string>][] = [
    ['no Authorization', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
    ['the token as Basic', { authorization: `Basic ${TEST_ADMIN_TOKEN}` }],
    ['the token without a scheme', { authorization: TEST_ADMIN_TOKEN }],
    ['the token with a suffix', { authorization: `Bearer ${TEST_ADMIN_TOKEN}x` }],
    ['a prefix of the token', { authorization: `Bearer ${TEST_ADMIN_TOKEN.slice(0, -1)}` }],
  ];

  it.each(authorizations)('answers 401 JSON with %s on every admin route', async (_what, headers) => {
    for (const [method, p] of routes) {
      const res = await fetch(intake.url + p, { method, headers });
      expect({ route: `${method} ${p}`, status: res.status, body: await res.text() }).toEqual({
        route: `${method} ${p}`,
        status: 401,
        body: '{"error":"unauthorized"}',
      });
    }
  });

  it('with the token: 404 for an unknown event or route, 405 with Allow for a wrong method', async () => {
    const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    const unknown = await fetch(`${intake.url}/events/mailgun:nope`, { headers: auth });
    expect(unknown.status).toBe(404);
    const route = await fetch(`${intake.url}/admin/nothing-here`, { headers: auth });
    expect([route.status, await route.json()]).toEqual([404, { error: 'not_found' }]);
    const method = await fetch(`${intake.url}/events/mailgun:x`, { method: 'DELETE', headers: auth });
    expect([method.status, method.headers.get('allow'), await method.json()]).toEqual([
      405,
      'GET',
      { error: 'method_not_allowed' },
    ]);
    // The scheme is case-insensitive (RFC 7235).
    const lower = await fetch(`${intake.url}/admin/events`, {
      headers: { authorization: `bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(lower.status).toBe(200);
  });
});

// Temporal unavailable (spooled, 200/202) and Temporal plus store unavailable (503 + Retry-After):
// test/integration/spool.test.ts.
