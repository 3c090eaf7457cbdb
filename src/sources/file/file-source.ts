import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { ValidateFunction } from 'ajv/dist/2020';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { z } from 'zod';
import { InvalidSignatureError, TokenBoundError, ValidationError } from '../../errors';
import { bindMailgunToken, bindMailgunTokens, sweepMailgunTokens } from '../../store/token-bindings-repo';
import type { Locator, Preset, SourceAnswer } from '../presets/preset';
import { acceptRequest, type RequestSteps } from '../accept';
import type { SourceDefinition, SourceExample, SourceRequest } from '../types';
import { isSafeId } from '../validation';
import {
  headerOf,
  secretKey,
  signHmac,
  signedContent,
  timestampOf,
  usesJson,
  verifyHmac,
  type HmacScheme,
  type Template,
} from './hmac';
import { pointerString, resolvePointer, setPointer } from './json-pointer';

/** Where a file source delivers (`deliver:` with its secret resolved). */
export interface Delivery {
  url: string;
  /** The Standard Webhooks secret Intake signs deliveries with (value of `deliver.secret`). */
  secret: string;
  /** The variable it came from, for messages. */
  secretVariable: string;
  timeoutMs: number;
}

/** A sources-file entry, resolved: preset merged, secrets read, template and schema compiled. */
export interface FileSourceSpec {
  name: string;
  preset?: Preset;
  hmac: HmacScheme;
  template: Template;
  /** Verify with the provider's library (the preset's, when no hmac field is overridden). */
  library?: 'standardwebhooks';
  /** The secrets' variables and values, in file order; several = rotation (any may match). */
  secrets: { variable: string; value: string }[];
  eventId: Locator;
  eventType: Locator;
  entity?: Locator;
  successCode: 200 | 201 | 202;
  answer?: (json: unknown) => SourceAnswer | undefined;
  /** Bind the signed token to the first event id (Preset.tokenBinding). */
  tokenBinding?: { token: string; content: string };
  /** The entry's JSON Schema, compiled (ajv, draft 2020-12). */
  validate?: ValidateFunction;
  deliver: Delivery;
}

/** What a file source's workflow carries: the body exactly as received, and its content type. */
export interface RawDelivery {
  /** The request body as received (UTF-8, which the JSON check guarantees): byte-identical. */
  body: string;
  contentType: string;
}

/**
 * The activity name file sources' events scheduled before the typed handler (`handleEvent` now runs
 * every source; HISTORY_SHAPES.handlerByName): the worker still registers it for them.
 */
export const DELIVER_ACTIVITY = 'deliverWebhook';

/** A file source: a Source whose processing is the delivery to `deliver`. */
export type FileSourceDefinition = SourceDefinition<unknown, FileSourceSpec> & { delivery: Delivery };

const header = (req: SourceRequest, name: string) => headerOf(req.headers, name);

/** The value a locator points at, in the request's headers or parsed body. */
function locate(loc: Locator, json: unknown, req: SourceRequest): string | undefined {
  return 'header' in loc ? header(req, loc.header) : pointerString(json, loc.jsonPointer);
}

const where = (loc: Locator) => ('header' in loc ? `header ${loc.header}` : loc.jsonPointer);

/** Turns ajv's errors into the 422 issues (`path` with dots, as the zod schemas of code sources). */
function schemaIssues(ctx: z.core.$RefinementCtx, validate: ValidateFunction): void {
  for (const e of validate.errors ?? []) {
    const path = e.instancePath
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    ctx.addIssue({ code: 'custom', path, message: e.message ?? 'invalid' });
  }
}

/** The body schema of a file source: the entry's JSON Schema, and ids/types where they are read. */
function bodySchema(spec: FileSourceSpec): z.ZodType<unknown> {
  return z.unknown().superRefine((json, ctx) => {
    if (spec.validate && !spec.validate(json)) schemaIssues(ctx, spec.validate);
    for (const [field, loc] of [
      ['eventId', spec.eventId],
      ['eventType', spec.eventType],
    ] as const) {
      if ('header' in loc) continue;
      const v = pointerString(json, loc.jsonPointer);
      if (v === undefined || v.length === 0 || !isSafeId(v))
        ctx.addIssue({
          code: 'custom',
          path: loc.jsonPointer.split('/').slice(1),
          message: `${field} must be a non-empty string or number without control characters`,
        });
    }
  });
}

/** Standard Webhooks verification with the library, against each secret (rotation). */
function verifyWithLibrary(spec: FileSourceSpec, req: SourceRequest): void {
  const id = header(req, 'webhook-id');
  const timestamp = header(req, 'webhook-timestamp');
  const signature = header(req, 'webhook-signature');
  if (!id || !timestamp || !signature) throw new InvalidSignatureError('missing Standard Webhooks headers');
  // The library parses leniently; only plain seconds are accepted.
  if (!/^\d{1,12}$/.test(timestamp)) throw new InvalidSignatureError('malformed timestamp');
  const headers = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
  for (const { value } of spec.secrets) {
    try {
      new Webhook(value).verify(req.rawBody, headers);
      return;
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
    }
  }
  throw new InvalidSignatureError('no matching signature');
}

/**
 * `bind`, `bindMany`, `bindRejected` and `sweep` for a source whose signature does not
 * cover the event (Preset.tokenBinding): the signed token is bound to the first event id it signed,
 * in the store shared by every replica, exactly as the built-in code source of that provider binds its tokens.
 * Tokens are kept per source (`<source>:<token>`), so two sources never take each other's.
 */
function tokenBindingOf(
  name: string,
  binding: { token: string; content: string },
): Pick<SourceDefinition<unknown, FileSourceSpec>, 'bind' | 'bindMany' | 'bindRejected' | 'sweep'> {
  const tokenOf = (json: unknown) => {
    const token = pointerString(json, binding.token);
    // Verification signed this token; a body without one cannot have passed it.
    if (token === undefined || token === '') throw new InvalidSignatureError('no signed token');
    return `${name}:${token}`;
  };
  const ttl = (config: { signatureToleranceS: number }) => config.signatureToleranceS * 2 + 60;
  return {
    async bind(json, identity, { store, config, tx }) {
      const bound = await bindMailgunToken(tx ?? store, tokenOf(json), identity.eventId, ttl(config));
      if (bound !== identity.eventId) throw new TokenBoundError(bound);
    },
    async bindMany(items, { store, config, tx }) {
      const pairs = items.map((i) => ({ token: tokenOf(i.event), eventId: i.identity.eventId }));
      const bound = await bindMailgunTokens(tx ?? store, pairs, ttl(config));
      return bound.map((id, i) => (id === pairs[i]!.eventId ? undefined : new TokenBoundError(id)));
    },
    async bindRejected(json, key, { store, config, tx }) {
      const bound = await bindMailgunToken(tx ?? store, tokenOf(json), key, ttl(config));
      if (bound !== key) throw new TokenBoundError(bound);
    },
    sweep: sweepMailgunTokens,
  };
}

/** How a file source's requests are verified and identified (its Source.accept runs these). */
function fileSourceSteps(spec: FileSourceSpec): RequestSteps<unknown> {
  const keys = spec.secrets.map((s) => secretKey(spec.hmac, s.value));
  const verify = (json: unknown, req: SourceRequest) => {
    if (spec.library === 'standardwebhooks') return verifyWithLibrary(spec, req);
    const id = spec.template.some((p) => p.kind === 'id') ? locate(spec.eventId, json, req) : undefined;
    verifyHmac(spec.hmac, spec.template, keys, {
      rawBody: req.rawBody,
      headers: req.headers,
      url: req.url,
      json,
      id,
    });
  };
  // A signature over the body's own fields is checked once the body is parsed; any other before.
  const afterParse =
    usesJson(spec.hmac, spec.template) ||
    ('jsonPointer' in spec.eventId && spec.template.some((p) => p.kind === 'id'));
  const headersToKeep = [spec.eventId, spec.eventType, spec.entity]
    .filter((l): l is { header: string } => !!l && 'header' in l)
    .map((l) => l.header.toLowerCase());
  return {
    ...(afterParse
      ? { verifyParsed: (json: unknown, req: SourceRequest) => verify(json, req) }
      : { verifyRaw: (req: SourceRequest) => verify(undefined, req) }),
    ...(spec.answer ? { answer: spec.answer } : {}),
    // With a token binding, the quarantine keys a request by its event content (the signature block
    // differs between deliveries of one event).
    ...(spec.tokenBinding
      ? { contentOf: (json: unknown) => resolvePointer(json, spec.tokenBinding!.content) }
      : {}),
    replayHeaders: ['content-type', ...headersToKeep],
    identify(json, req) {
      const found = (loc: Locator, field: string) => {
        const v = locate(loc, json, req);
        if (v === undefined || v.length === 0 || !isSafeId(v))
          throw new ValidationError([{ path: where(loc), message: `${field} is missing` }]);
        return v;
      };
      const entity = spec.entity ? (locate(spec.entity, json, req) ?? '') : '';
      return {
        eventId: found(spec.eventId, 'event id'),
        eventType: found(spec.eventType, 'event type'),
        entity,
      };
    },
    workflowPayload: (_json, req): RawDelivery => ({
      body: req.rawBody.toString('utf8'),
      contentType: header(req, 'content-type') ?? 'application/json',
    }),
  };
}

/** Builds the Source of a resolved sources-file entry. */
export function fileSource(spec: FileSourceSpec): FileSourceDefinition {
  const steps = fileSourceSteps(spec);
  return {
    name: spec.name,
    route: spec.name,
    activity: DELIVER_ACTIVITY,
    successStatus: spec.successCode,
    env: {},
    settings: () => spec,
    secretVariable: spec.secrets[0]?.variable ?? spec.name,
    hasSecrets: () => spec.secrets.length > 0,
    devSecrets: () => ({}),
    example: (_settings, opts) => fileSourceExample(spec, opts),
    schema: bodySchema(spec),
    accept(req, ctx, opts) {
      return acceptRequest(steps, this.schema, req, ctx, opts);
    },
    ...(spec.tokenBinding ? tokenBindingOf(spec.name, spec.tokenBinding) : {}),
    delivery: spec.deliver,
  };
}

/**
 * `intake send <source> --example`: the preset's documented sample (or, for a generic entry, a body
 * with just the id and type its rules read), a fresh event id, signed with the first secret.
 */
export function fileSourceExample(spec: FileSourceSpec, opts: { event?: string }): SourceExample {
  const secret = spec.secrets[0];
  if (!secret) throw new Error(`source ${spec.name} has no secret`);
  const sample = spec.preset?.example ?? { body: {}, headers: {} };
  const body = structuredClone(sample.body);
  const headers: Record<string, string> = { ...sample.headers, 'content-type': 'application/json' };
  const id = `example-${randomUUID()}`;
  const put = (loc: Locator, value: string) => {
    if ('header' in loc) {
      for (const k of Object.keys(headers))
        if (k.toLowerCase() === loc.header.toLowerCase()) delete headers[k];
      headers[loc.header] = value;
    } else setPointer(body, loc.jsonPointer, value);
  };
  put(spec.eventId, id);
  // A bound token signs one event only: each example gets its own, as each real delivery does.
  if (spec.tokenBinding) setPointer(body, spec.tokenBinding.token, randomBytes(25).toString('hex'));
  if (opts.event || !spec.preset) put(spec.eventType, opts.event ?? 'example');
  const raw = signExample(spec, secret.value, body, headers, id);
  // The event is read by its id; its data is at the destination (no read route in Intake).
  const workflowId = `${spec.name}:${id}`;
  return {
    request: { path: `/webhooks/${spec.name}`, headers, body: raw },
    read: { label: 'Event id', id: workflowId, path: `/events/${encodeURIComponent(workflowId)}` },
    deliveredTo: spec.deliver.url,
  };
}

/**
 * Signs an example body as the source's provider would (writing a signature or timestamp carried in
 * the body into `body`, the rest into `headers`); returns the body text.
 */
function signExample(
  spec: FileSourceSpec,
  secretValue: string,
  body: Record<string, unknown>,
  headers: Record<string, string>,
  id: string,
): string {
  const nowMs = Date.now();
  let raw: string;
  if (spec.library === 'standardwebhooks') {
    raw = JSON.stringify(body);
    const ts = new Date(Math.floor(nowMs / 1000) * 1000);
    headers['webhook-timestamp'] = String(Math.floor(nowMs / 1000));
    headers['webhook-signature'] = new Webhook(secretValue).sign(headers['webhook-id'] ?? id, ts, raw);
  } else {
    // Signatures and timestamps carried in the body are written into it before signing.
    const ts = String(Math.floor(nowMs / 1000));
    if (spec.hmac.timestampJsonPointer) setPointer(body, spec.hmac.timestampJsonPointer, ts);
    const key = secretKey(spec.hmac, secretValue);
    if (spec.hmac.signatureJsonPointer) {
      const tsUsed = timestampOf(spec.hmac, { rawBody: Buffer.alloc(0), headers: {}, json: body });
      const content = signedContent(
        spec.template,
        { rawBody: Buffer.alloc(0), headers: lower(headers), json: body, id },
        tsUsed,
      );
      const digest = signHmacDigest(spec.hmac, key, content);
      setPointer(body, spec.hmac.signatureJsonPointer, `${spec.hmac.prefix ?? ''}${digest}`);
      raw = JSON.stringify(body);
    } else {
      raw = JSON.stringify(body);
      Object.assign(
        headers,
        signHmac(
          spec.hmac,
          spec.template,
          key,
          { rawBody: Buffer.from(raw), headers: lower(headers), json: body, id },
          nowMs,
        ),
      );
    }
  }
  return raw;
}

const lower = (h: Record<string, string>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** The encoded HMAC of `content` (for signatures written into the body). */
function signHmacDigest(scheme: HmacScheme, key: Buffer, content: Buffer): string {
  return createHmac(scheme.algorithm, key)
    .update(content)
    .digest(scheme.encoding === 'hex' ? 'hex' : scheme.encoding);
}
