import { createHmac } from 'node:crypto';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';

// GitHub's own signing library ships ESM only (jest maps and transforms it: jest.config.js).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const octokit = require('@octokit/webhooks-methods') as typeof import('@octokit/webhooks-methods', {
  with: { 'resolution-mode': 'import' },
});

/** A request as a provider sends it: headers (signature included) and the exact body. */
export interface ProviderRequest {
  headers: Record<string, string>;
  body: string;
}

/** The secret each preset's tests sign with (Standard Webhooks needs whsec_ base64). */
export const PROVIDER_SECRETS: Record<string, string> = {
  github: 'It-is-a-Secret-to-Everybody',
  stripe: 'whsec_stripe_test_secret_0123456789',
  shopify: 'shopify-client-secret-0123456789',
  slack: '8f742231b10e8888abcd99yyyzzz85a5',
  'standard-webhooks': 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  mailgun: 'key-mailgun-signing-0123456789',
};

/** A second secret per preset: "wrong secret" tests and rotations. */
export const OTHER_SECRETS: Record<string, string> = {
  github: 'another-github-secret',
  stripe: 'whsec_another_stripe_secret',
  shopify: 'another-shopify-secret',
  slack: 'another-slack-signing-secret0000',
  'standard-webhooks': 'whsec_QW5vdGhlclNlY3JldEZvclJvdGF0aW9uMTIz',
  mailgun: 'key-another-mailgun-key',
};

/**
 * Signs `body` (and any headers the provider sends besides the signature) as the provider does,
 * with its own library where it publishes one: @octokit/webhooks-methods (GitHub), the stripe
 * package's generateTestHeaderString (Stripe), standardwebhooks. Shopify and Slack publish no
 * signing library: node:crypto computes exactly what their documentation describes (and the Slack
 * documented vector is checked in test/unit/presets.test.ts). Mailgun signs inside the body.
 */
export async function signAsProvider(
  preset: string,
  secret: string,
  body: string,
  headers: Record<string, string>,
  timestampS: number = Math.floor(Date.now() / 1000),
): Promise<ProviderRequest> {
  const base: Record<string, string> = { 'content-type': 'application/json', ...headers };
  switch (preset) {
    case 'github':
      return { body, headers: { ...base, 'x-hub-signature-256': await octokit.sign(secret, body) } };
    case 'stripe':
      return {
        body,
        headers: {
          ...base,
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({
            payload: body,
            secret,
            timestamp: timestampS,
          }),
        },
      };
    case 'standard-webhooks': {
      const id = base['webhook-id'] ?? `msg_${Math.random().toString(36).slice(2)}`;
      const signature = new Webhook(secret).sign(id, new Date(timestampS * 1000), body);
      return {
        body,
        headers: {
          ...base,
          'webhook-id': id,
          'webhook-timestamp': String(timestampS),
          'webhook-signature': signature,
        },
      };
    }
    case 'shopify':
      // shopify.dev "Verify a webhook": base64 HMAC-SHA256 of the raw body with the client secret.
      return {
        body,
        headers: {
          ...base,
          'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body).digest('base64'),
        },
      };
    case 'slack': {
      // api.slack.com "Verifying requests from Slack": v0= hex HMAC-SHA256 of "v0:timestamp:body".
      const sig = createHmac('sha256', secret).update(`v0:${timestampS}:${body}`).digest('hex');
      return {
        body,
        headers: {
          ...base,
          'x-slack-request-timestamp': String(timestampS),
          'x-slack-signature': `v0=${sig}`,
        },
      };
    }
    case 'mailgun': {
      // Mailgun "Securing webhooks": hex HMAC-SHA256 of timestamp + token, written into the body.
      const doc = JSON.parse(body) as { signature: Record<string, string> };
      const token = doc.signature.token ?? 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0';
      const ts = String(timestampS);
      doc.signature = {
        timestamp: ts,
        token,
        signature: createHmac('sha256', secret)
          .update(ts + token)
          .digest('hex'),
      };
      return { body: JSON.stringify(doc), headers: base };
    }
    default:
      throw new Error(`no signer for ${preset}`);
  }
}

/** The header carrying each preset's signature (removed by "missing header" tests). */
export const SIGNATURE_HEADER: Record<string, string | undefined> = {
  github: 'x-hub-signature-256',
  stripe: 'stripe-signature',
  shopify: 'x-shopify-hmac-sha256',
  slack: 'x-slack-signature',
  'standard-webhooks': 'webhook-signature',
  mailgun: undefined,
};

/** Presets whose scheme signs a timestamp (a stale one is refused). */
export const TIMESTAMPED = new Set(['stripe', 'slack', 'standard-webhooks', 'mailgun']);
