import type { Preset } from './preset';

/**
 * Mailgun (documentation.mailgun.com, "Securing webhooks") as a file preset, for delivery to your
 * own service (the built-in `mailgun` code source keeps its own processing): the signature is in
 * the body, `signature.signature` = hex HMAC-SHA256 of `timestamp + token` with the webhook signing
 * key, 300 s. Mailgun's signature does not cover `event-data`: like the code source, a file entry
 * binds each token to the first event id it signed (or, when the schema refuses the request and it is
 * quarantined, to the hash of its `event-data`), so a captured signature block with forged
 * event-data is refused.
 */
export const mailgunPreset: Preset = {
  name: 'mailgun',
  summary:
    'signature.signature in the body (hex HMAC of timestamp+token, 300 s; token bound to its first event id); id /event-data/id, type /event-data/event; 200',
  hmac: {
    algorithm: 'sha256',
    encoding: 'hex',
    signatureJsonPointer: '/signature/signature',
    signedContent: '{timestamp}{json:/signature/token}',
    timestampJsonPointer: '/signature/timestamp',
    toleranceS: 300,
  },
  eventId: { jsonPointer: '/event-data/id' },
  eventType: { jsonPointer: '/event-data/event' },
  entity: { jsonPointer: '/event-data/message/headers/message-id' },
  successCode: 200,
  tokenBinding: { token: '/signature/token', content: '/event-data' },
  example: {
    // A `delivered` event as in Mailgun's webhook documentation, shortened.
    body: {
      signature: {
        timestamp: '1529006854',
        token: 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0',
        signature: '',
      },
      'event-data': {
        event: 'delivered',
        timestamp: 1529006854.329574,
        id: 'DACSsAdVSeGpLid7TN03WA',
        recipient: 'alice@example.com',
        message: { headers: { 'message-id': '20130503182626.18666.16540@example.com' } },
      },
    },
    headers: {},
  },
};
