import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { InvalidSignatureError } from '../../src/errors';
import { parseTemplate, secretKey, verifyHmac, type HmacScheme } from '../../src/sources/file/hmac';
import { loadSourcesFile } from '../../src/sources/file/load';
import { presets } from '../../src/sources/presets';
import type { AnySource, SourceRequest } from '../../src/sources/types';
import {
  OTHER_SECRETS,
  PROVIDER_SECRETS,
  SIGNATURE_HEADER,
  signAsProvider,
  TIMESTAMPED,
  type ProviderRequest,
} from '../support/provider-signing';

/**
 * Every preset against its provider's own signing library (or documented vector), and every preset
 * re-expressed as a generic `verify.hmac` entry accepting and refusing exactly the same requests.
 */
const DELIVERY_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** Each preset spelled out in the generic scheme, field by field, as a user would write it. */
const GENERIC: Record<string, { hmac: Record<string, unknown>; eventId: object; eventType: object }> = {
  github: {
    hmac: {
      algorithm: 'sha256',
      encoding: 'hex',
      header: 'X-Hub-Signature-256',
      prefix: 'sha256=',
      signedContent: '{body}',
    },
    eventId: { header: 'X-GitHub-Delivery' },
    eventType: { header: 'X-GitHub-Event' },
  },
  stripe: {
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
  },
  shopify: {
    hmac: {
      algorithm: 'sha256',
      encoding: 'base64',
      header: 'X-Shopify-Hmac-Sha256',
      signedContent: '{body}',
    },
    eventId: { header: 'X-Shopify-Webhook-Id' },
    eventType: { header: 'X-Shopify-Topic' },
  },
  slack: {
    hmac: {
      algorithm: 'sha256',
      encoding: 'hex',
      header: 'X-Slack-Signature',
      prefix: 'v0=',
      signedContent: 'v0:{timestamp}:{body}',
      timestampHeader: 'X-Slack-Request-Timestamp',
      toleranceS: 300,
    },
    eventId: { jsonPointer: '/event_id' },
    eventType: { jsonPointer: '/event/type' },
  },
  'standard-webhooks': {
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
    eventId: { header: 'webhook-id' },
    eventType: { jsonPointer: '/type' },
  },
  mailgun: {
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
  },
};

const PRESETS = [...presets.keys()];
let dir: string;
let bySource: Map<string, AnySource>;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-presets-'));
  const env: Record<string, string> = { DELIVERY: DELIVERY_SECRET };
  const entries: object[] = [];
  for (const name of PRESETS) {
    const v = name.toUpperCase().replace(/-/g, '_');
    env[`${v}_SECRET`] = PROVIDER_SECRETS[name]!;
    env[`${v}_OLD`] = OTHER_SECRETS[name]!;
    const deliver = { url: 'http://127.0.0.1:1/hooks', secret: 'DELIVERY' };
    entries.push({ name: `p-${name}`, preset: name, secrets: [`${v}_SECRET`], deliver });
    entries.push({
      name: `g-${name}`,
      secrets: [`${v}_SECRET`],
      verify: { hmac: GENERIC[name]!.hmac },
      eventId: GENERIC[name]!.eventId,
      eventType: GENERIC[name]!.eventType,
      deliver,
    });
    // Rotation: the old secret first, the current one second; either may sign.
    entries.push({ name: `r-${name}`, preset: name, secrets: [`${v}_OLD`, `${v}_SECRET`], deliver });
  }
  const file = path.join(dir, 'sources.yaml');
  fs.writeFileSync(file, stringify({ sources: entries }));
  bySource = new Map(
    loadSourcesFile(file, { env, reserved: [] }).map((d) => [d.name, d as unknown as AnySource]),
  );
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 'ok' when the source verifies the request, else the refusal's reason family. */
function outcome(sourceName: string, req: ProviderRequest): 'ok' | 'invalid_signature' {
  const source = bySource.get(sourceName)!;
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const sreq: SourceRequest = { params: {}, headers, rawBody: Buffer.from(req.body) };
  const ctx = {} as never;
  try {
    // A verified request is accepted, answered or refused by the schema; only a bad signature throws.
    source.accept(sreq, ctx);
    return 'ok';
  } catch (err) {
    if (err instanceof InvalidSignatureError) return 'invalid_signature';
    throw err;
  }
}

/** The preset's documented sample body with a fresh id. */
function sample(name: string): { body: string; headers: Record<string, string> } {
  const { body, headers } = presets.get(name)!.example;
  return { body: JSON.stringify({ ...body, nonce: Math.random().toString(36).slice(2) }), headers };
}

/** The body with one letter changed (still valid JSON, so only the signature can catch it). */
function flipByte(req: ProviderRequest, name: string): ProviderRequest {
  // Mailgun's signature covers timestamp + token only: the token is the signed byte to flip.
  const at =
    name === 'mailgun' ? req.body.indexOf('"token":"') + 10 : req.body.search(/[a-z](?=[a-z]*"\s*[,}])/);
  const c = req.body[at]!;
  return { ...req, body: req.body.slice(0, at) + (c === 'x' ? 'y' : 'x') + req.body.slice(at + 1) };
}

function withoutSignature(req: ProviderRequest, name: string): ProviderRequest {
  const header = SIGNATURE_HEADER[name];
  if (header) {
    const headers = { ...req.headers };
    delete headers[header];
    return { ...req, headers };
  }
  const doc = JSON.parse(req.body) as { signature: Record<string, string> };
  delete doc.signature.signature;
  return { ...req, body: JSON.stringify(doc) };
}

/** The requests every preset is checked with: what each is, and whether it must pass. */
async function cases(name: string): Promise<[string, ProviderRequest, boolean][]> {
  const secret = PROVIDER_SECRETS[name]!;
  const { body, headers } = sample(name);
  const good = await signAsProvider(name, secret, body, headers);
  const now = Math.floor(Date.now() / 1000);
  const out: [string, ProviderRequest, boolean][] = [
    ['signed by the provider library', good, true],
    ['a flipped body byte', flipByte(good, name), false],
    ['a wrong secret', await signAsProvider(name, OTHER_SECRETS[name]!, body, headers), false],
    ['a missing signature', withoutSignature(good, name), false],
  ];
  if (TIMESTAMPED.has(name)) {
    out.push([
      'a stale timestamp (400 s old)',
      await signAsProvider(name, secret, body, headers, now - 400),
      false,
    ]);
    out.push([
      'a timestamp 200 s old (inside tolerance)',
      await signAsProvider(name, secret, body, headers, now - 200),
      true,
    ]);
  }
  return out;
}

describe.each(PRESETS)('preset %s', (name) => {
  it('accepts requests signed by the provider library and refuses each broken one', async () => {
    for (const [what, req, pass] of await cases(name))
      expect([what, outcome(`p-${name}`, req)]).toEqual([what, pass ? 'ok' : 'invalid_signature']);
  });

  it('re-expressed as a generic verify.hmac entry, accepts and refuses the same requests', async () => {
    for (const [what, req] of await cases(name))
      expect([what, outcome(`g-${name}`, req)]).toEqual([what, outcome(`p-${name}`, req)]);
  });

  it('with two secrets (rotation), accepts either and still refuses a third', async () => {
    const { body, headers } = sample(name);
    expect(outcome(`r-${name}`, await signAsProvider(name, PROVIDER_SECRETS[name]!, body, headers))).toBe(
      'ok',
    );
    expect(outcome(`r-${name}`, await signAsProvider(name, OTHER_SECRETS[name]!, body, headers))).toBe('ok');
    const third = name === 'standard-webhooks' ? 'whsec_VGhpcmRTZWNyZXROb3RDb25maWd1cmVk' : 'third-secret';
    expect(outcome(`r-${name}`, await signAsProvider(name, third, body, headers))).toBe('invalid_signature');
  });
});

describe('documented vectors', () => {
  const scheme = (name: string): HmacScheme => presets.get(name)!.hmac;
  const check = (
    name: string,
    secret: string,
    body: string,
    headers: Record<string, string>,
    nowMs: number,
  ) =>
    verifyHmac(
      scheme(name),
      parseTemplate(scheme(name).signedContent),
      [secretKey(scheme(name), secret)],
      {
        rawBody: Buffer.from(body),
        headers,
      },
      nowMs,
    );

  it('Slack: the example of "Verifying requests from Slack"', () => {
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const headers = {
      'x-slack-request-timestamp': '1531420618',
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    };
    expect(() =>
      check('slack', '8f742231b10e8888abcd99yyyzzz85a5', body, headers, 1531420618_000),
    ).not.toThrow();
    // Six minutes later the same request is stale.
    expect(() => check('slack', '8f742231b10e8888abcd99yyyzzz85a5', body, headers, 1531420978_000)).toThrow(
      InvalidSignatureError,
    );
  });

  it('GitHub: the example of "Validating webhook deliveries"', () => {
    const headers = {
      'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    };
    expect(() =>
      check('github', "It's a Secret to Everybody", 'Hello, World!', headers, Date.now()),
    ).not.toThrow();
  });

  it('Stripe: any v1 of several may match; v0 and unknown schemes are ignored', async () => {
    const { body } = sample('stripe');
    const good = await signAsProvider('stripe', PROVIDER_SECRETS.stripe!, body, {});
    const [t, v1] = good.headers['stripe-signature']!.split(',');
    const several = {
      ...good,
      headers: {
        ...good.headers,
        'stripe-signature': `${t},v1=${'0'.repeat(64)},v0=${'1'.repeat(64)},${v1}`,
      },
    };
    expect(outcome('p-stripe', several)).toBe('ok');
    const onlyV0 = {
      ...good,
      headers: { ...good.headers, 'stripe-signature': `${t},${v1!.replace('v1=', 'v0=')}` },
    };
    expect(outcome('p-stripe', onlyV0)).toBe('invalid_signature');
  });
});

describe('the generic scheme', () => {
  const scheme: HmacScheme = {
    algorithm: 'sha512',
    encoding: 'base64url',
    header: 'X-Acme-Signature',
    prefix: 'sha512=',
    signedContent: '{timestamp}.{body}',
    timestampHeader: 'X-Acme-Timestamp',
    toleranceS: 60,
  };
  it('refuses a signature that is not in its encoding, and an unbalanced template', () => {
    const tpl = parseTemplate(scheme.signedContent);
    const headers = {
      'x-acme-signature': 'sha512=!!!',
      'x-acme-timestamp': String(Math.floor(Date.now() / 1000)),
    };
    expect(() =>
      verifyHmac(scheme, tpl, [Buffer.from('k')], { rawBody: Buffer.from('{}'), headers }),
    ).toThrow(InvalidSignatureError);
    expect(() => parseTemplate('{body')).toThrow(/unbalanced/);
    expect(() => parseTemplate('{nope}.{body}')).toThrow(/unknown placeholder \{nope\}/);
  });
});
