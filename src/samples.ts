import { randomBytes, randomUUID } from 'node:crypto';
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
