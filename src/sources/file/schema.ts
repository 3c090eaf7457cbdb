import { z } from 'zod';
import { isJsonPointer } from './json-pointer';

/**
 * The sources file (INTAKE_SOURCES_FILE, YAML or JSON), as DESIGN.md "Sources from a file, delivery
 * to your service" specifies it. Parsed with zod once, at start-up (./load.ts); unknown keys are
 * refused so that a typo (`secret:` for `secrets:`) stops start-up instead of being ignored.
 */

const pointer = z.string().refine(isJsonPointer, 'must be a JSON Pointer such as /data/id');
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name');
/** The name of an environment variable holding a secret (never the secret itself). */
const envName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'must be the name of an environment variable (e.g. ACME_WEBHOOK_SECRET)',
  );

/** Where a value is read: `{ header: X-Name }` or `{ jsonPointer: /path }`. */
export const locatorSchema = z.union(
  [z.strictObject({ header: headerName }), z.strictObject({ jsonPointer: pointer })],
  { error: 'must be { header: Name } or { jsonPointer: /path }' },
);

/** `verify.hmac`: every field optional here; a preset supplies the rest (./load.ts checks the result). */
export const hmacSchema = z.strictObject({
  algorithm: z.enum(['sha1', 'sha256', 'sha512']).optional(),
  encoding: z.enum(['hex', 'base64', 'base64url']).optional(),
  header: headerName.optional(),
  signatureJsonPointer: pointer.optional(),
  prefix: z.string().optional(),
  signedContent: z.string().min(1).optional(),
  timestampHeader: headerName.optional(),
  timestampJsonPointer: pointer.optional(),
  timestampPrefix: z.string().min(1).optional(),
  toleranceS: z.number().int().positive().optional(),
  delimiter: z.string().min(1).optional(),
  secretEncoding: z.enum(['utf8', 'base64']).optional(),
});

/** `deliver`: where a file source's events go, and the secret Intake signs them with. */
export const deliverSchema = z.strictObject({
  url: z
    .string()
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL'),
  secret: envName,
  /** Timeout of one delivery attempt (connect, headers and body), ms. Default 10000. */
  timeoutMs: z.number().int().min(100).max(600_000).default(10_000),
});

/** One entry of `sources:`. */
export const entrySchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'must match [a-z0-9-]+ (it is the route /webhooks/<name>)')
    .max(64),
  preset: z.string().optional(),
  secrets: z.array(envName).min(1, 'needs at least one variable'),
  schema: z.string().min(1).optional(),
  verify: z.strictObject({ hmac: hmacSchema }).optional(),
  eventId: locatorSchema.optional(),
  eventType: locatorSchema.optional(),
  entity: locatorSchema.optional(),
  successCode: z.union([z.literal(200), z.literal(201), z.literal(202)]).optional(),
  deliver: deliverSchema,
});

/** The whole file. */
export const sourcesFileSchema = z.strictObject({ sources: z.array(z.unknown()) });

export type SourcesFileEntry = z.infer<typeof entrySchema>;
