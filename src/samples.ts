import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { mailgunSignature } from './sources/mailgun';

/** A ready-to-send webhook request. */
export interface SignedRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
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
