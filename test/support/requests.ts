import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { Webhook } from 'standardwebhooks';
import { mailgunSignature } from '../../src/sources/mailgun';
import { TEST_MAILGUN_KEY, TEST_PARTNER_SECRET, tryParseJson } from './harness';

/**
 * Builders for correctly signed webhook requests. Every option defaults to the valid value, so a
 * negative test overrides exactly one thing and everything else stays right.
 */

/** A request ready to send; `body` is sent byte for byte (a Buffer keeps fetch from adding a type). */
export interface TestRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** A JSON object that tests may mutate before it is serialised. */
export type Json = Record<string, unknown>;

/** Options of {@link mailgunRequest}. */
export interface MailgunRequestOptions {
  /** Signing key used for the signature. Default TEST_MAILGUN_KEY (the harness's). */
  key?: string;
  /** Unix seconds in the signature block. Default now. */
  timestamp?: number;
  /** Signature token. Default 50 random hex characters. */
  token?: string;
  eventId?: string;
  event?: string;
  recipient?: string;
  messageId?: string;
  /** Changes the body after signing (Mailgun's signature covers only timestamp + token). */
  mutate?: (body: Json) => void;
  /** Replaces the serialised body (for bytes that are not JSON). */
  rawBody?: string | Buffer;
  /** Content-Type; `null` sends none. Default `application/json`. */
  contentType?: string | null;
}

/** A signed Mailgun webhook in the documented shape, with the values it was built from. */
export function mailgunRequest(o: MailgunRequestOptions = {}): TestRequest & {
  json: Json;
  eventId: string;
  token: string;
} {
  const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const token = o.token ?? randomBytes(25).toString('hex');
  const eventId = o.eventId ?? randomBytes(11).toString('base64url');
  const recipient = o.recipient ?? 'alice@example.com';
  const json: Json = {
    signature: { timestamp, token, signature: mailgunSignature(o.key ?? TEST_MAILGUN_KEY, timestamp, token) },
    'event-data': {
      id: eventId,
      event: o.event ?? 'delivered',
      timestamp: Number(timestamp) + 0.123456,
      recipient,
      'log-level': 'info',
      tags: ['welcome'],
      'user-variables': {},
      envelope: { sender: 'bob@mg.example.com', transport: 'smtp', targets: recipient },
      message: {
        headers: {
          'message-id': o.messageId ?? `${randomUUID()}@mg.example.com`,
          from: 'Example <bob@mg.example.com>',
          to: recipient,
          subject: 'Welcome',
        },
        size: 1234,
      },
      'delivery-status': { code: 250, message: 'OK', 'attempt-no': 1 },
    },
  };
  o.mutate?.(json);
  return {
    method: 'POST',
    path: '/webhooks/mailgun',
    headers: contentTypeHeader(o.contentType),
    body: o.rawBody ?? JSON.stringify(json),
    json,
    eventId,
    token,
  };
}

/** Options of {@link partnerRequest}. */
export interface PartnerRequestOptions {
  /** Path segment. Default `acme` (configured in the harness). */
  partner?: string;
  /** Secret used to sign. Default TEST_PARTNER_SECRET (acme's). */
  secret?: string;
  webhookId?: string;
  /** Unix seconds, signed and sent. Default now. */
  timestamp?: number;
  type?: string;
  /** Customer fields merged over the defaults (id, updatedAt, name, email). */
  data?: Json;
  /** The exact text to sign and send instead of the JSON built from the options. */
  bodyText?: string;
  /** Bytes sent instead of the signed text (a tampered body). */
  sendBody?: string | Buffer;
  /** Header changes after signing; `undefined` removes the header. */
  headers?: Record<string, string | undefined>;
  /** Content-Type; `null` sends none. Default `application/json`. */
  contentType?: string | null;
}

/** A partner customer event signed per Standard Webhooks with the `standardwebhooks` library. */
export function partnerRequest(o: PartnerRequestOptions = {}): TestRequest & {
  webhookId: string;
  customerId: string;
} {
  const webhookId = o.webhookId ?? `msg_${randomBytes(12).toString('base64url')}`;
  const timestamp = o.timestamp ?? Math.floor(Date.now() / 1000);
  const data: Json = {
    id: `cus_${randomBytes(8).toString('hex')}`,
    updatedAt: new Date().toISOString(),
    name: 'Jane Doe',
    email: 'jane.doe@example.com',
    ...o.data,
  };
  const text =
    o.bodyText ??
    JSON.stringify({
      type: o.type ?? 'customer.upserted',
      timestamp: new Date(timestamp * 1000).toISOString(),
      data,
    });
  const signature = new Webhook(o.secret ?? TEST_PARTNER_SECRET).sign(
    webhookId,
    new Date(timestamp * 1000),
    text,
  );
  const headers: Record<string, string> = {
    ...contentTypeHeader(o.contentType),
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
  };
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  return {
    method: 'POST',
    path: `/webhooks/partners/${o.partner ?? 'acme'}`,
    headers,
    body: o.sendBody ?? text,
    webhookId,
    customerId: String(data.id),
  };
}

function contentTypeHeader(contentType: string | null | undefined): Record<string, string> {
  return contentType === null ? {} : { 'content-type': contentType ?? 'application/json' };
}

/** The answer to one request: status, headers, body text and the body parsed if it is JSON. */
export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/**
 * Sends a TestRequest with fetch. String bodies are sent as bytes so fetch never invents a
 * Content-Type; the request's own headers are the only ones that matter.
 */
export async function send(base: string, req: TestRequest): Promise<TestResponse> {
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const res = await fetch(base + req.path, { method: req.method, headers: req.headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: tryParseJson(text) };
}

/** A response read off a raw socket. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes raw bytes to the API (for what fetch refuses to send: a lying Content-Length, a chunked
 * body that never ends) and resolves with the first HTTP response. `chunks` are written one after
 * the other; writing stops quietly if the server has already answered and closed.
 */
export async function rawRequest(base: string, chunks: (string | Buffer)[]): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    // Generous: Intake answers within seconds; a busy machine must not turn that into a failure.
    const timer = setTimeout(() => finish(new Error('no complete response within 60 s')), 60_000);
    const finish = (err?: Error, res?: RawResponse) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(res as RawResponse);
    };
    const tryParse = (ended: boolean) => {
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return ended ? finish(new Error('connection closed without a response')) : undefined;
      const [statusLine = '', ...lines] = received.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? NaN);
      const body = received.subarray(end + 4);
      if (Number.isFinite(length) ? body.length >= length : ended) {
        finish(undefined, {
          status: Number(statusLine.split(' ')[1]),
          headers,
          body: body.subarray(0, Number.isFinite(length) ? length : undefined).toString('utf8'),
        });
      }
    };
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('close', () => tryParse(true));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // EPIPE/ECONNRESET after the server answered early is expected: use what was received.
      if (received.length > 0) tryParse(true);
      else finish(e);
    });
    socket.on('connect', () => {
      void (async () => {
        for (const c of chunks) {
          if (socket.destroyed || !socket.writable) return;
          await new Promise<void>((r) => socket.write(c, () => r()));
        }
      })();
    });
  });
}
