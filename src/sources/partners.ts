import type { IncomingHttpHeaders } from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { z } from 'zod';
import { activeSources, type Config } from '../config';
import { InvalidJsonError, InvalidSignatureError } from '../errors';
import type { Source } from './types';
import { safeId, storableJson } from './validation';

/**
 * The `standardwebhooks` library refuses timestamps more than 5 minutes old or ahead and does not let
 * callers change that window, so INTAKE_SIGNATURE_TOLERANCE_S is enforced on top of it: the effective
 * window for partners is the smaller of the two.
 */
export const LIBRARY_TOLERANCE_S = 300;

/** `data` of a customer event: id and updatedAt are required, every other customer field is kept. */
export const customerDataSchema = z.looseObject({
  id: safeId(256),
  // Year 0000 is valid ISO 8601 but out of PostgreSQL's range.
  updatedAt: z.iso
    .datetime({ offset: true })
    .refine((v) => !v.startsWith('0000'), 'year must be 0001 or later'),
});

const envelope = {
  /** When the partner emitted the event (informational; ordering uses data.updatedAt). */
  timestamp: z.iso.datetime({ offset: true }).optional(),
  data: customerDataSchema,
};

/**
 * A partner webhook body, discriminated by `type`; unknown keys are kept. Every string and key
 * anywhere in it must be storable: `data` is kept whole in a jsonb column.
 */
export const partnerWebhookSchema = z
  .discriminatedUnion('type', [
    z.looseObject({ type: z.literal('customer.upserted'), ...envelope }),
    z.looseObject({ type: z.literal('customer.deleted'), ...envelope }),
  ])
  .superRefine((body, ctx) => storableJson(ctx, body));

/** A validated partner webhook. */
export type PartnerWebhook = z.infer<typeof partnerWebhookSchema>;

/** The three Standard Webhooks headers. */
export interface StandardWebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

const headerValue = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
};

/** Picks the Standard Webhooks headers; a missing or repeated header is an invalid signature. */
export function standardWebhookHeaders(headers: IncomingHttpHeaders): StandardWebhookHeaders {
  const id = headerValue(headers, 'webhook-id');
  const timestamp = headerValue(headers, 'webhook-timestamp');
  const signature = headerValue(headers, 'webhook-signature');
  if (!id || !timestamp || !signature) throw new InvalidSignatureError('missing Standard Webhooks headers');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
}

// Webhook instances decode their secret once; secrets only change with the config.
const verifiers = new Map<string, Webhook | null>();

function verifierFor(secret: string): Webhook | null {
  let wh = verifiers.get(secret);
  if (wh === undefined) {
    try {
      wh = new Webhook(secret);
    } catch {
      wh = null; // not base64 after whsec_: it can never match
    }
    verifiers.set(secret, wh);
  }
  return wh;
}

/**
 * Verifies a Standard Webhooks request against any of `secrets` (several during a rotation) with the
 * `standardwebhooks` library, over the exact body text. The library checks the HMAC of every `v1,…`
 * signature in the header in constant time and its own 5-minute window; the configured tolerance
 * is enforced here as well, in both directions. Throws InvalidSignatureError.
 */
export function verifyPartnerSignature(
  secrets: readonly string[],
  body: string,
  headers: StandardWebhookHeaders,
  toleranceS: number,
  nowMs: number = Date.now(),
): void {
  const timestamp = headers['webhook-timestamp'];
  // The library parses leniently (parseInt); anything but plain seconds is refused here.
  if (!/^\d{1,12}$/.test(timestamp)) throw new InvalidSignatureError('malformed webhook-timestamp');
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceS) {
    throw new InvalidSignatureError('timestamp outside tolerance');
  }
  for (const secret of secrets) {
    const wh = verifierFor(secret);
    if (!wh) continue;
    try {
      wh.verify(body, { ...headers }, { jsonParse: false });
      return;
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
    }
  }
  throw new InvalidSignatureError('no matching signature');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // keep a BOM: it is signed too

/** Standard Webhooks customer data from partner systems, one secret list per partner. */
export const partnersSource: Source<PartnerWebhook> = {
  name: 'partners',
  route: 'partners/:partner',
  activity: 'handlePartners',
  // Standard Webhooks: any 2xx is success; 202 says "accepted for processing".
  successStatus: 202,
  replayHeaders: ['webhook-id', 'webhook-timestamp'],
  isConfigured: (config: Config, params) =>
    activeSources(config).includes('partners') &&
    (config.partners.get(params.partner ?? '')?.length ?? 0) > 0,
  verifyRaw(req, { config }) {
    const headers = standardWebhookHeaders(req.headers);
    let body: string;
    try {
      // The library signs text; bytes that are not UTF-8 cannot be verified, nor be JSON.
      body = utf8.decode(req.rawBody);
    } catch {
      throw new InvalidJsonError('body is not valid UTF-8');
    }
    const secrets = config.partners.get(req.params.partner ?? '') ?? [];
    verifyPartnerSignature(secrets, body, headers, Math.min(config.signatureToleranceS, LIBRARY_TOLERANCE_S));
  },
  schema: partnerWebhookSchema,
  identify: (event, req) => {
    const partner = req.params.partner ?? '';
    return {
      eventId: `${partner}:${standardWebhookHeaders(req.headers)['webhook-id']}`,
      eventType: event.type,
      entity: `${partner}:${event.data.id}`,
    };
  },
};
