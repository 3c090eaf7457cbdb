import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { InvalidSignatureError } from '../../errors';
import { isJsonPointer, pointerString } from './json-pointer';

/**
 * The generic HMAC scheme of a sources-file entry (`verify.hmac`): every preset's signature is one
 * of these, so a provider that signs with an HMAC needs no code. Field names are the file's.
 */
export interface HmacScheme {
  /** Hash of the HMAC. */
  algorithm: 'sha1' | 'sha256' | 'sha512';
  /** How the signature is written in the header. */
  encoding: 'hex' | 'base64' | 'base64url';
  /** Request header carrying the signature (case-insensitive). Required unless `signatureJsonPointer`. */
  header?: string;
  /** The signature sits in the JSON body at this pointer instead of a header. */
  signatureJsonPointer?: string;
  /** Text before each signature (`sha256=`, `v1=`, `v1,`); values without it are ignored. */
  prefix?: string;
  /**
   * What is signed: a template over `{body}` (the raw bytes), `{timestamp}`, `{id}` (the event id),
   * `{url}` (the request URL), `{header:Name}` and `{json:/pointer}`. Default `{body}`.
   */
  signedContent: string;
  /** Header with the signing time in Unix seconds; with `toleranceS`, stale requests are refused. */
  timestampHeader?: string;
  /** The signing time sits in the JSON body at this pointer instead. */
  timestampJsonPointer?: string;
  /** Inside a header of several `key=value` parts, the part holding the timestamp (`t=`). */
  timestampPrefix?: string;
  /** Largest allowed distance between the timestamp and now, seconds. Default 300. */
  toleranceS?: number;
  /** Separator of several signatures in one header (any may match). */
  delimiter?: string;
  /** How the secret is turned into the key: its UTF-8 bytes (default) or base64 (`whsec_` dropped). */
  secretEncoding?: 'utf8' | 'base64';
}

/** What the signed content may refer to. */
export interface SignedRequestParts {
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
  /** The event id, when the template uses `{id}`. */
  id?: string;
  /** The URL the request was sent to, when the template uses `{url}`. */
  url?: string;
  /** The parsed body, when the template or scheme uses a JSON pointer. */
  json?: unknown;
}

type Part =
  | { kind: 'text'; text: string }
  | { kind: 'body' | 'timestamp' | 'id' | 'url' }
  | { kind: 'header'; name: string }
  | { kind: 'json'; pointer: string };

/** A parsed `signedContent` template. */
export type Template = Part[];

/** A template error: the placeholder and why. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses a `signedContent` template; throws TemplateError on an unknown or malformed placeholder. */
export function parseTemplate(template: string): Template {
  const parts: Template = [];
  let last = 0;
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    if (m.index > last) parts.push({ kind: 'text', text: template.slice(last, m.index) });
    last = m.index + m[0].length;
    const name = m[1] ?? '';
    if (name === 'body' || name === 'timestamp' || name === 'id' || name === 'url')
      parts.push({ kind: name });
    else if (name.startsWith('header:') && HEADER_NAME.test(name.slice(7)))
      parts.push({ kind: 'header', name: name.slice(7).toLowerCase() });
    else if (name.startsWith('json:') && isJsonPointer(name.slice(5)))
      parts.push({ kind: 'json', pointer: name.slice(5) });
    else
      throw new TemplateError(
        `unknown placeholder {${name}} (known: {body} {timestamp} {id} {url} {header:Name} {json:/pointer})`,
      );
  }
  const rest = template.slice(last);
  if (/[{}]/.test(rest)) throw new TemplateError(`unbalanced brace in "${template}"`);
  if (rest) parts.push({ kind: 'text', text: rest });
  return parts;
}

/** True when the scheme reads the parsed body (then it is checked after JSON parsing). */
export function usesJson(scheme: HmacScheme, template: Template): boolean {
  return (
    !!scheme.signatureJsonPointer || !!scheme.timestampJsonPointer || template.some((p) => p.kind === 'json')
  );
}

/** One header's value; a missing, empty or repeated header is none. */
export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** The key bytes of a secret under the scheme's secretEncoding. */
export function secretKey(scheme: Pick<HmacScheme, 'secretEncoding'>, secret: string): Buffer {
  if (scheme.secretEncoding === 'base64') return Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return Buffer.from(secret, 'utf8');
}

/** The signed bytes for this request; throws InvalidSignatureError when a referenced part is missing. */
export function signedContent(template: Template, req: SignedRequestParts, timestamp?: string): Buffer {
  const chunks = template.map((p): Buffer => {
    switch (p.kind) {
      case 'text':
        return Buffer.from(p.text, 'utf8');
      case 'body':
        return req.rawBody;
      case 'header': {
        const v = headerOf(req.headers, p.name);
        if (v === undefined) throw new InvalidSignatureError(`missing signed header ${p.name}`);
        return Buffer.from(v, 'utf8');
      }
      case 'json': {
        const v = pointerString(req.json, p.pointer);
        if (v === undefined) throw new InvalidSignatureError(`missing signed field ${p.pointer}`);
        return Buffer.from(v, 'utf8');
      }
      default: {
        const v = p.kind === 'timestamp' ? timestamp : p.kind === 'id' ? req.id : req.url;
        if (v === undefined) throw new InvalidSignatureError(`missing signed {${p.kind}}`);
        return Buffer.from(v, 'utf8');
      }
    }
  });
  return Buffer.concat(chunks);
}

const ENCODED: Record<HmacScheme['encoding'], RegExp> = {
  hex: /^(?:[0-9a-fA-F]{2})+$/,
  base64: /^[A-Za-z0-9+/]+={0,2}$/,
  base64url: /^[A-Za-z0-9_-]+={0,2}$/,
};

/** The raw bytes of one written signature, or undefined when it is not in the scheme's encoding. */
function decodeSignature(encoding: HmacScheme['encoding'], text: string): Buffer | undefined {
  if (!ENCODED[encoding].test(text)) return undefined;
  return Buffer.from(text, encoding === 'hex' ? 'hex' : encoding);
}

/** The written signature(s): the header (or body field), split by the delimiter, prefix removed. */
function signatureCandidates(scheme: HmacScheme, req: SignedRequestParts): string[] {
  const raw = scheme.signatureJsonPointer
    ? pointerString(req.json, scheme.signatureJsonPointer)
    : scheme.header
      ? headerOf(req.headers, scheme.header)
      : undefined;
  if (raw === undefined) throw new InvalidSignatureError('missing signature');
  const prefix = scheme.prefix ?? '';
  const values = scheme.delimiter ? raw.split(scheme.delimiter).map((s) => s.trim()) : [raw.trim()];
  return values.filter((v) => v.startsWith(prefix)).map((v) => v.slice(prefix.length));
}

/** The signing time as written (Unix seconds), or undefined when the scheme has none. */
export function timestampOf(scheme: HmacScheme, req: SignedRequestParts): string | undefined {
  if (!scheme.timestampHeader && !scheme.timestampJsonPointer) return undefined;
  let raw = scheme.timestampJsonPointer
    ? pointerString(req.json, scheme.timestampJsonPointer)
    : headerOf(req.headers, scheme.timestampHeader!);
  if (raw !== undefined && scheme.timestampPrefix) {
    const prefix = scheme.timestampPrefix;
    raw = raw
      .split(scheme.delimiter ?? ',')
      .map((s) => s.trim())
      .find((s) => s.startsWith(prefix))
      ?.slice(prefix.length);
  }
  if (raw === undefined) throw new InvalidSignatureError('missing timestamp');
  if (!/^\d{1,12}$/.test(raw)) throw new InvalidSignatureError('malformed timestamp');
  return raw;
}

/** The HMAC of `content` under one key. */
function mac(algorithm: HmacScheme['algorithm'], key: Buffer, content: Buffer): Buffer {
  return createHmac(algorithm, key).update(content).digest();
}

/**
 * Verifies a request under the scheme with any of `secrets` (several during a rotation) against any
 * of the signatures it carries. The timestamp must lie within `toleranceS` of now, in both
 * directions. Comparison is constant-time on the raw MAC bytes (timingSafeEqual on equal lengths);
 * a written signature that is not in the scheme's encoding never matches. Throws
 * InvalidSignatureError, one family for every failure.
 */
export function verifyHmac(
  scheme: HmacScheme,
  template: Template,
  secrets: readonly Buffer[],
  req: SignedRequestParts,
  nowMs: number = Date.now(),
): void {
  const candidates = signatureCandidates(scheme, req)
    .map((c) => decodeSignature(scheme.encoding, c))
    .filter((c): c is Buffer => c !== undefined);
  if (candidates.length === 0) throw new InvalidSignatureError('no signature in the expected form');
  const timestamp = timestampOf(scheme, req);
  if (timestamp !== undefined && Math.abs(nowMs / 1000 - Number(timestamp)) > (scheme.toleranceS ?? 300))
    throw new InvalidSignatureError('timestamp outside tolerance');
  const content = signedContent(template, req, timestamp);
  for (const key of secrets) {
    const expected = mac(scheme.algorithm, key, content);
    // Every candidate is compared (no early exit by position); lengths are public (the algorithm's).
    let ok = false;
    for (const c of candidates) if (c.length === expected.length && timingSafeEqual(c, expected)) ok = true;
    if (ok) return;
  }
  throw new InvalidSignatureError('no matching signature');
}

/**
 * The headers that sign a request under the scheme (examples, `intake send`, tests): the signature
 * header, with the timestamp in its own header or (timestampPrefix) as a part of the same one.
 * Schemes that read the signature or timestamp from the body cannot be signed by headers alone:
 * their examples put them into the body before signing (see `signInBody`).
 */
export function signHmac(
  scheme: HmacScheme,
  template: Template,
  secret: Buffer,
  req: SignedRequestParts,
  nowMs: number = Date.now(),
): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  const hasTimestamp = !!scheme.timestampHeader || !!scheme.timestampJsonPointer;
  const digest = mac(
    scheme.algorithm,
    secret,
    signedContent(template, req, hasTimestamp ? timestamp : undefined),
  );
  const signature = `${scheme.prefix ?? ''}${digest.toString(scheme.encoding === 'hex' ? 'hex' : scheme.encoding)}`;
  const out: Record<string, string> = {};
  if (
    scheme.timestampHeader &&
    scheme.timestampPrefix &&
    scheme.timestampHeader.toLowerCase() === scheme.header?.toLowerCase()
  ) {
    out[scheme.header] = `${scheme.timestampPrefix}${timestamp}${scheme.delimiter ?? ','}${signature}`;
    return out;
  }
  if (scheme.timestampHeader)
    out[scheme.timestampHeader] = scheme.timestampPrefix
      ? `${scheme.timestampPrefix}${timestamp}`
      : timestamp;
  if (scheme.header) out[scheme.header] = signature;
  return out;
}
