import type { Preset } from './preset';

/**
 * Shopify (shopify.dev, "Verify a webhook"): `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the
 * body>` with the app's client secret; id `X-Shopify-Webhook-Id`, topic `X-Shopify-Topic`. Shopify
 * signs no timestamp: replays are caught by the event id (a redelivery is a duplicate).
 */
export const shopifyPreset: Preset = {
  name: 'shopify',
  summary:
    'X-Shopify-Hmac-Sha256 (base64 HMAC of the body); id X-Shopify-Webhook-Id, type X-Shopify-Topic; 200',
  hmac: {
    algorithm: 'sha256',
    encoding: 'base64',
    header: 'X-Shopify-Hmac-Sha256',
    signedContent: '{body}',
  },
  eventId: { header: 'X-Shopify-Webhook-Id' },
  eventType: { header: 'X-Shopify-Topic' },
  entity: { jsonPointer: '/admin_graphql_api_id' },
  successCode: 200,
  example: {
    // An `orders/create` delivery as in Shopify's webhook documentation, shortened.
    body: {
      id: 450789469,
      admin_graphql_api_id: 'gid://shopify/Order/450789469',
      email: 'jon@example.com',
      created_at: '2021-12-31T19:00:00-05:00',
      currency: 'USD',
      total_price: '403.00',
      financial_status: 'paid',
      line_items: [{ id: 466157049, title: 'Aviator sunglasses', quantity: 1, price: '199.00' }],
    },
    headers: {
      'X-Shopify-Topic': 'orders/create',
      'X-Shopify-Webhook-Id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
      'X-Shopify-Shop-Domain': 'example.myshopify.com',
      'X-Shopify-API-Version': '2024-01',
    },
  },
};
