import type { Preset } from './preset';

/**
 * Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp`, `webhook-signature:
 * v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (several, space-separated, any may match), secrets
 * `whsec_<base64>`, 5 minutes either way. Verified with the `standardwebhooks` library; the
 * generic scheme below is its exact equivalent (tested), used when an entry overrides a field.
 */
export const standardWebhooksPreset: Preset = {
  name: 'standard-webhooks',
  summary:
    'webhook-signature v1,… (base64 HMAC of "id.timestamp.body", whsec_ secrets, 300 s), standardwebhooks library; id webhook-id, type /type; 202',
  hmac: {
    algorithm: 'sha256',
    encoding: 'base64',
    header: 'webhook-signature',
    prefix: 'v1,',
    delimiter: ' ',
    signedContent: '{id}.{timestamp}.{body}',
    timestampHeader: 'webhook-timestamp',
    toleranceS: 300,
    secretEncoding: 'base64',
  },
  library: 'standardwebhooks',
  eventId: { header: 'webhook-id' },
  eventType: { jsonPointer: '/type' },
  successCode: 202,
  example: {
    // The example event of the Standard Webhooks specification.
    body: {
      type: 'contact.created',
      timestamp: '2022-11-03T20:26:10.344522Z',
      data: { id: '1f81eb52-5198-4599-803e-771906343485', type: 'contact' },
    },
    headers: { 'webhook-id': 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W' },
  },
};
