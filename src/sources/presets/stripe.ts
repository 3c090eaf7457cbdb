import type { Preset } from './preset';

/**
 * Stripe (docs.stripe.com, "Verify webhook signatures manually"): `Stripe-Signature: t=<unix>,
 * v1=<hex HMAC-SHA256 of "t.body">[,v1=…][,v0=…]`; any `v1` may match (Stripe sends several while a
 * secret rolls), other schemes are ignored; tolerance 300 s as in Stripe's libraries. Event id and
 * type are the body's `id` and `type`; the entity is the object the event is about.
 */
export const stripePreset: Preset = {
  name: 'stripe',
  summary: 'Stripe-Signature t=…,v1=… (hex HMAC of "t.body", any v1, 300 s); id /id, type /type; 200',
  hmac: {
    algorithm: 'sha256',
    encoding: 'hex',
    header: 'Stripe-Signature',
    prefix: 'v1=',
    delimiter: ',',
    signedContent: '{timestamp}.{body}',
    timestampHeader: 'Stripe-Signature',
    timestampPrefix: 't=',
    toleranceS: 300,
  },
  eventId: { jsonPointer: '/id' },
  eventType: { jsonPointer: '/type' },
  entity: { jsonPointer: '/data/object/id' },
  successCode: 200,
  example: {
    // A `payment_intent.succeeded` event as in Stripe's API reference ("The Event object"), shortened.
    body: {
      id: 'evt_3MtwBwLkdIwHu7ix0sAGoYHy',
      object: 'event',
      api_version: '2022-11-15',
      created: 1680064028,
      data: {
        object: {
          id: 'pi_3MtwBwLkdIwHu7ix28a3tqPa',
          object: 'payment_intent',
          amount: 2000,
          currency: 'usd',
          status: 'succeeded',
        },
      },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: 'payment_intent.succeeded',
    },
    headers: { 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
  },
};
