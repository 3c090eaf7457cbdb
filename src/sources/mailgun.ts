import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { optionalString } from '../config/env-values';
import { InvalidJsonError, InvalidSignatureError, TokenBoundError } from '../errors';
import { topLevelObjectMember } from './json-member';
import { bindMailgunToken, bindMailgunTokens, sweepMailgunTokens } from '../store/token-bindings-repo';
import { acceptRequest, type RequestSteps } from './accept';
import { settingsOf, type SignedRequest, type SourceDefinition } from './types';
import { safeId, storableJson, unixSeconds } from './validation';

/** Mailgun's `signature` block (https://documentation.mailgun.com: securing webhooks). */
const signatureSchema = z.object({
  // Mailgun sends a string of digits; a JSON integer (some relays and hand-written tests) signs the same.
  timestamp: z.union([
    z.string().regex(/^\d{1,12}$/),
    z.number().int().nonnegative().max(999_999_999_999).transform(String),
  ]),
  token: z.string().min(1).max(256),
  signature: z.string().regex(/^[0-9a-f]{64}$/i),
});

/** The documented `event-data` shape; Mailgun adds fields over time, so unknown keys are kept. */
export const mailgunEventDataSchema = z.looseObject({
  id: safeId(256),
  event: safeId(64),
  timestamp: unixSeconds(),
  recipient: z.string().max(1024).optional(),
  severity: z.enum(['permanent', 'temporary']).optional(),
  reason: z.string().max(1024).optional(),
  message: z.looseObject({
    headers: z.looseObject({
      // RFC 5322 bounds a line at 998 octets; the bound in bytes also keeps the id inside
      // Temporal's 2,048-byte search attribute and PostgreSQL's btree index limits.
      'message-id': safeId(998).refine(
        (s) => Buffer.byteLength(s) <= 998,
        'must be at most 998 bytes in UTF-8',
      ),
    }),
  }),
});

/**
 * A whole Mailgun webhook body. Every string anywhere in it must be storable: the body is kept in
 * the workflow history and its fields in the store.
 */
export const mailgunWebhookSchema = z
  .looseObject({
    signature: signatureSchema,
    'event-data': mailgunEventDataSchema,
  })
  .superRefine((body, ctx) => storableJson(ctx, body));

/** A validated Mailgun webhook. */
export type MailgunWebhook = z.infer<typeof mailgunWebhookSchema>;
/** A validated Mailgun `event-data`. */
export type MailgunEventData = z.infer<typeof mailgunEventDataSchema>;

/** Hex HMAC-SHA256 of timestamp + token, as Mailgun signs it. */
export function mailgunSignature(signingKey: string, timestamp: string, token: string): string {
  return createHmac('sha256', signingKey)
    .update(timestamp + token)
    .digest('hex');
}

/**
 * Verifies a Mailgun signature block in constant time and within the tolerance (both directions).
 * Throws InvalidSignatureError.
 */
export function verifyMailgunSignature(
  signingKey: string,
  block: unknown,
  toleranceS: number,
  nowMs: number = Date.now(),
): { token: string } {
  const parsed = signatureSchema.safeParse(block);
  if (!parsed.success) throw new InvalidSignatureError('missing or malformed signature block');
  const { timestamp, token, signature } = parsed.data;
  const expected = Buffer.from(mailgunSignature(signingKey, timestamp, token), 'hex');
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new InvalidSignatureError('signature mismatch');
  }
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceS) {
    throw new InvalidSignatureError('timestamp outside tolerance');
  }
  return { token };
}

/** Options of {@link mailgunExample}. */
export interface MailgunExampleOptions {
  signingKey: string;
  eventId?: string;
  event?: string;
  messageId?: string;
  recipient?: string;
  /** Unix seconds for the signature; default now. */
  timestamp?: number;
  token?: string;
}

/** A correctly signed Mailgun webhook in the documented shape (used by `intake send` and tests). */
export function mailgunExample(o: MailgunExampleOptions): SignedRequest {
  const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const token = o.token ?? randomBytes(25).toString('hex');
  const body = {
    signature: { timestamp, token, signature: mailgunSignature(o.signingKey, timestamp, token) },
    'event-data': {
      id: o.eventId ?? randomBytes(11).toString('base64url'),
      event: o.event ?? 'delivered',
      timestamp: Number(timestamp) + 0.123456,
      recipient: o.recipient ?? 'alice@example.com',
      'log-level': 'info',
      tags: ['welcome'],
      'user-variables': {},
      flags: { 'is-routed': false, 'is-authenticated': true, 'is-test-mode': false },
      envelope: {
        sender: 'bob@mg.example.com',
        transport: 'smtp',
        targets: o.recipient ?? 'alice@example.com',
      },
      message: {
        headers: {
          'message-id': o.messageId ?? `${randomUUID()}@mg.example.com`,
          from: 'Example <bob@mg.example.com>',
          to: o.recipient ?? 'alice@example.com',
          subject: 'Welcome',
        },
        attachments: [],
        size: 1234,
      },
      'delivery-status': { code: 250, message: 'OK', 'attempt-no': 1, tls: true },
    },
  };
  return {
    path: '/webhooks/mailgun',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

/** The Mailgun source's settings (from MAILGUN_SIGNING_KEY). */
export interface MailgunSettings {
  signingKey?: string;
}

/** How a Mailgun request is verified and identified (Source.accept runs these). */
const mailgunSteps: RequestSteps<MailgunWebhook> = {
  // Before the JSON parse: the signature block alone is found with a byte scan and checked, so an
  // unsigned body (up to INTAKE_MAX_BODY_BYTES) is refused without parsing it.
  verifyRaw(req, { config }) {
    const raw = req.rawBody;
    // What is not a JSON object at all stays a 400, as the parse would answer, without parsing (a
    // NUL byte is never valid JSON; UTF-16 text is full of them).
    if (raw.length === 0) throw new InvalidJsonError('body is empty');
    const first = raw.find((c) => c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d);
    if (first !== 0x7b || raw.includes(0)) throw new InvalidJsonError('body must be a JSON object');
    const member = topLevelObjectMember(raw, 'signature');
    let block: unknown;
    try {
      block = member ? JSON.parse(member.toString('utf8')) : undefined;
    } catch {
      block = undefined;
    }
    const { signingKey } = settingsOf(config, mailgunSource);
    verifyMailgunSignature(signingKey ?? '', block, config.signatureToleranceS);
  },
  verifyParsed(json, _req, { config }) {
    const block =
      typeof json === 'object' && json !== null ? (json as Record<string, unknown>).signature : undefined;
    const { signingKey } = settingsOf(config, mailgunSource);
    verifyMailgunSignature(signingKey ?? '', block, config.signatureToleranceS);
  },
  // Each delivery carries its own signature block; the event is what event-data says.
  contentOf: (json) =>
    typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['event-data'] : json,
  identify: (event) => ({
    eventId: event['event-data'].id,
    eventType: event['event-data'].event,
    entity: event['event-data'].message.headers['message-id'],
  }),
};

/** Mailgun source: signature inside the body, token bound to the first event id presenting it. */
export const mailgunSource: SourceDefinition<MailgunWebhook, MailgunSettings> = {
  name: 'mailgun',
  route: 'mailgun',
  activity: 'handleMailgun',
  // Mailgun's only documented success; a 202 would be retried, and `delivered` never is.
  successStatus: 200,
  env: { MAILGUN_SIGNING_KEY: optionalString },
  settings: (env) => ({ signingKey: env.MAILGUN_SIGNING_KEY as string | undefined }),
  secretVariable: 'MAILGUN_SIGNING_KEY',
  hasSecrets: (settings) => !!settings.signingKey,
  devSecrets: () => ({ MAILGUN_SIGNING_KEY: randomBytes(24).toString('hex') }),
  example({ signingKey }, { event }) {
    if (!signingKey)
      throw new Error(
        'MAILGUN_SIGNING_KEY is not set and no dev secrets were generated (run npm start first)',
      );
    const request = mailgunExample({ signingKey, event });
    const messageId = (JSON.parse(request.body) as MailgunWebhook)['event-data'].message.headers[
      'message-id'
    ];
    return {
      request,
      read: { label: 'Message id', id: messageId, path: `/messages/${encodeURIComponent(messageId)}` },
    };
  },
  schema: mailgunWebhookSchema,
  accept(req, ctx, opts) {
    return acceptRequest(mailgunSteps, this.schema, req, ctx, opts);
  },
  async bind(event, identity, { store, config, tx }) {
    // Mailgun's signature does not cover event-data: bind each token to the first event id it signed.
    const ttlS = config.signatureToleranceS * 2 + 60;
    const bound = await bindMailgunToken(tx ?? store, event.signature.token, identity.eventId, ttlS);
    if (bound !== identity.eventId) throw new TokenBoundError(bound);
  },
  async bindRejected(json, key, { store, config, tx }) {
    // verifyParsed has checked this block; the content the schema refused gets the token.
    const { token } = signatureSchema.parse((json as { signature?: unknown }).signature);
    const ttlS = config.signatureToleranceS * 2 + 60;
    const bound = await bindMailgunToken(tx ?? store, token, key, ttlS);
    if (bound !== key) throw new TokenBoundError(bound);
  },
  async bindMany(items, { store, config, tx }) {
    const ttlS = config.signatureToleranceS * 2 + 60;
    const pairs = items.map((i) => ({ token: i.event.signature.token, eventId: i.identity.eventId }));
    const bound = await bindMailgunTokens(tx ?? store, pairs, ttlS);
    return bound.map((id, i) => (id === pairs[i]!.eventId ? undefined : new TokenBoundError(id)));
  },
  sweep: sweepMailgunTokens,
};
