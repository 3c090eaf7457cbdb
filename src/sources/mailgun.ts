import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { activeSources, type Config } from '../config';
import { InvalidSignatureError } from '../errors';
import type { Source } from './types';
import { safeId, storableJson, unixSeconds } from './validation';

/** Mailgun's `signature` block (https://documentation.mailgun.com: securing webhooks). */
const signatureSchema = z.object({
  timestamp: z.string().regex(/^\d{1,12}$/),
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
      'message-id': safeId(998),
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

/** Mailgun source: signature inside the body, token bound to the first event id presenting it. */
export const mailgunSource: Source<MailgunWebhook> = {
  name: 'mailgun',
  route: 'mailgun',
  activity: 'handleMailgun',
  // Mailgun's only documented success; a 202 would be retried, and `delivered` never is.
  successStatus: 200,
  isConfigured: (config: Config) => activeSources(config).includes('mailgun') && !!config.mailgun.signingKey,
  verifyParsed(json, _req, { config }) {
    const block =
      typeof json === 'object' && json !== null ? (json as Record<string, unknown>).signature : undefined;
    verifyMailgunSignature(config.mailgun.signingKey ?? '', block, config.signatureToleranceS);
  },
  // Each delivery carries its own signature block; the event is what event-data says.
  contentOf: (json) =>
    typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['event-data'] : json,
  schema: mailgunWebhookSchema,
  identify: (event) => ({
    eventId: event['event-data'].id,
    eventType: event['event-data'].event,
    entity: event['event-data'].message.headers['message-id'],
  }),
  async bind(event, identity, { store, config, tx }) {
    // Mailgun's signature does not cover event-data: bind each token to the first event id it signed.
    const ttlS = config.signatureToleranceS * 2 + 60;
    const bound = await store.bindMailgunToken(event.signature.token, identity.eventId, ttlS, tx);
    if (bound !== identity.eventId) throw new InvalidSignatureError('token already used for another event');
  },
};
