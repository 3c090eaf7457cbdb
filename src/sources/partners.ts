import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { z } from 'zod';
import { optionalString } from '../config/env-values';
import { ConfigError, InvalidJsonError, InvalidSignatureError } from '../errors';
import { acceptRequest, type RequestSteps } from './accept';
import { settingsOf, type SignedRequest, type SourceDefinition } from './types';
import { safeId, storableDateTime, storableJson } from './validation';

/**
 * The `standardwebhooks` library refuses timestamps more than 5 minutes old or ahead and does not let
 * callers change that window, so INTAKE_SIGNATURE_TOLERANCE_S is enforced on top of it: the effective
 * window for partners is the smaller of the two.
 */
export const LIBRARY_TOLERANCE_S = 300;

/** `data` of a customer event: id and updatedAt are required, every other customer field is kept. */
export const customerDataSchema = z.looseObject({
  id: safeId(256),
  updatedAt: storableDateTime(),
});

const envelope = {
  /** When the partner emitted the event (informational; ordering uses data.updatedAt). */
  timestamp: storableDateTime().optional(),
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

/** `acme=whsec_…,globex=whsec_…`; a partner may appear several times during a secret rotation. */
export function parsePartnerSecrets(raw: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!raw) return out;
  for (const entry of raw.split(',')) {
    const trimmed = entry.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf('=');
    const partner = trimmed.slice(0, eq).trim();
    const secret = trimmed.slice(eq + 1).trim();
    if (eq <= 0 || !secret) {
      throw new ConfigError('INTAKE_PARTNER_SECRETS', 'expected partner=whsec_… pairs separated by commas');
    }
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/i.test(partner)) {
      throw new ConfigError('INTAKE_PARTNER_SECRETS', `partner name "${partner}" must be [A-Za-z0-9_-]`);
    }
    if (!secret.startsWith('whsec_')) {
      throw new ConfigError('INTAKE_PARTNER_SECRETS', `the secret for "${partner}" must start with whsec_`);
    }
    const key = secret.slice('whsec_'.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length < 16) {
      throw new ConfigError(
        'INTAKE_PARTNER_SECRETS',
        `the secret for "${partner}" must be whsec_ + base64 of at least 16 bytes`,
      );
    }
    out.set(partner, [...(out.get(partner) ?? []), secret]);
  }
  return out;
}

/** Options of {@link partnerExample}. */
export interface PartnerExampleOptions {
  /** Partner name, the last path segment (`acme`). */
  partner: string;
  /** The partner's `whsec_…` secret to sign with. */
  secret: string;
  /** Default `customer.upserted`. */
  type?: 'customer.upserted' | 'customer.deleted';
  /** Default a random `cus_…` id. */
  customerId?: string;
  /** The customer's `updatedAt` (the last-write-wins clock); default now. */
  updatedAt?: string;
  /** `webhook-id` header; default a random `msg_…` id. */
  webhookId?: string;
  /** `webhook-timestamp`, Unix seconds; default now. */
  timestamp?: number;
  /** Customer fields for an upsert, merged over the sample ones. */
  fields?: Record<string, unknown>;
}

/**
 * A partner customer event signed per Standard Webhooks with the `standardwebhooks` library (used by
 * `intake send partners` and tests). A delete carries only the customer id and updatedAt.
 */
export function partnerExample(o: PartnerExampleOptions): SignedRequest {
  const type = o.type ?? 'customer.upserted';
  const webhookId = o.webhookId ?? `msg_${randomBytes(12).toString('base64url')}`;
  const timestamp = o.timestamp ?? Math.floor(Date.now() / 1000);
  const updatedAt = o.updatedAt ?? new Date().toISOString();
  const id = o.customerId ?? `cus_${randomBytes(8).toString('hex')}`;
  const data =
    type === 'customer.deleted'
      ? { id, updatedAt }
      : {
          id,
          updatedAt,
          name: 'Jane Doe',
          email: 'jane.doe@example.com',
          policyNumber: 'POL-000123',
          ...o.fields,
        };
  const body = JSON.stringify({ type, timestamp: new Date(timestamp * 1000).toISOString(), data });
  const signature = new Webhook(o.secret).sign(webhookId, new Date(timestamp * 1000), body);
  return {
    path: `/webhooks/partners/${encodeURIComponent(o.partner)}`,
    headers: {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signature,
    },
    body,
  };
}

/** The partners source's settings: per-partner secrets (INTAKE_PARTNER_SECRETS). */
export interface PartnersSettings {
  /** Secrets by partner, several during a rotation (the newest last). */
  secrets: Map<string, string[]>;
}

/** How a partner request is verified and identified (Source.accept runs these). */
export const partnersSteps: RequestSteps<PartnerWebhook> = {
  replayHeaders: ['webhook-id', 'webhook-timestamp'],
  verifyRaw(req, { config }) {
    const headers = standardWebhookHeaders(req.headers);
    let body: string;
    try {
      // The library signs text; bytes that are not UTF-8 cannot be verified, nor be JSON.
      body = utf8.decode(req.rawBody);
    } catch {
      throw new InvalidJsonError('body is not valid UTF-8');
    }
    const secrets = settingsOf(config, partnersSource).secrets.get(req.params.partner ?? '') ?? [];
    verifyPartnerSignature(secrets, body, headers, Math.min(config.signatureToleranceS, LIBRARY_TOLERANCE_S));
  },
  identify: (event, req) => {
    const partner = req.params.partner ?? '';
    return {
      eventId: `${partner}:${standardWebhookHeaders(req.headers)['webhook-id']}`,
      eventType: event.type,
      entity: `${partner}:${event.data.id}`,
    };
  },
};

/** Standard Webhooks customer data from partner systems, one secret list per partner. */
export const partnersSource: SourceDefinition<PartnerWebhook, PartnersSettings> = {
  name: 'partners',
  route: 'partners/:partner',
  activity: 'handlePartners',
  // Standard Webhooks: any 2xx is success; 202 says "accepted for processing".
  successStatus: 202,
  env: { INTAKE_PARTNER_SECRETS: optionalString },
  settings: (env) => ({ secrets: parsePartnerSecrets(env.INTAKE_PARTNER_SECRETS as string | undefined) }),
  secretVariable: 'INTAKE_PARTNER_SECRETS',
  hasSecrets: (settings) => settings.secrets.size > 0,
  accepts: (settings, params) => (settings.secrets.get(params.partner ?? '')?.length ?? 0) > 0,
  devSecrets: () => ({ INTAKE_PARTNER_SECRETS: `acme=whsec_${randomBytes(24).toString('base64')}` }),
  example({ secrets }, { event }) {
    // The first configured partner, signed with its newest (last listed) secret.
    const [partner, list] = [...secrets.entries()][0] ?? [];
    const secret = list?.[list.length - 1];
    if (!partner || !secret)
      throw new Error(
        'INTAKE_PARTNER_SECRETS is not set and no dev secrets were generated (run npm start first)',
      );
    const type = event ?? 'customer.upserted';
    if (type !== 'customer.upserted' && type !== 'customer.deleted')
      throw new Error('--event for partners is customer.upserted or customer.deleted');
    const request = partnerExample({ partner, secret, type });
    const customer = (JSON.parse(request.body) as PartnerWebhook).data.id;
    return {
      request,
      read: {
        label: 'Customer id',
        id: customer,
        path: `/customers/${encodeURIComponent(partner)}/${encodeURIComponent(customer)}`,
      },
    };
  },
  schema: partnerWebhookSchema,
  accept(req, ctx, opts) {
    return acceptRequest(partnersSteps, this.schema, req, ctx, opts);
  },
};
