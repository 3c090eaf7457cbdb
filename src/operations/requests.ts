import { z } from 'zod';
import { BadRequestError } from '../errors';

/**
 * The one schema of each operator request. The admin API parses its bodies and queries with them,
 * and the CLI parses its options into the same schema before it sends anything, so both refuse the
 * same things with the same message (BadRequestError, naming the first bad field).
 */

/** A source name as routes and search attributes spell it. */
const sourceName = z.string().regex(/^[a-z0-9_-]{1,64}$/, 'source must be [a-z0-9_-]');

/** An event id as ingest accepts it: printable ASCII (a workflow id). */
const eventId = z.string().regex(/^[\x21-\x7e]{1,300}$/, 'ids must be printable ASCII');

/** `N` events or `P%` of them, e.g. `5` or `10%` (a number is taken as N). */
const canary = z
  .union([z.number().int().positive().transform(String), z.string()])
  .pipe(z.string().regex(/^(\d{1,6}|\d{1,3}(\.\d+)?%)$/, 'canary must be N or P% (e.g. 5 or 10%)'))
  .refine((s) => {
    const n = Number(s.replace(/%$/, ''));
    return n > 0 && (!s.endsWith('%') || n <= 100);
  }, 'canary must be 1.. or 0%..100%');

/** A boolean as JSON or as a query parameter (`?dryRun`, `=true`, `=1`). */
const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1' || v === ''),
]);

/** An empty query parameter (`?status=&source=`, a form left blank) is no filter. */
const blankless = <T extends z.ZodType>(t: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), t.optional());

/** What an event's status can be; `rejected` and `dead` are known only to the API's store. */
export const EVENT_STATUSES = [
  'queued',
  'processing',
  'processed',
  'parked',
  'discarded',
  'rejected',
  'dead',
] as const;

/** GET /admin/events and `intake events list`. */
export const eventListQuerySchema = z.object({
  /** Only events with this status. */
  status: blankless(z.enum(EVENT_STATUSES, { error: `status must be one of ${EVENT_STATUSES.join(', ')}` })),
  /** Only this source. */
  source: blankless(sourceName),
  /** At most this many; default 100. */
  limit: blankless(z.coerce.number().int().min(1).max(1000, 'must be 1..1000')).transform((n) => n ?? 100),
});
/** A validated event listing. */
export type EventListQuery = z.infer<typeof eventListQuerySchema>;

/** GET /admin/issues and `intake events issues`. */
export const issuesQuerySchema = z.object({
  /** Only this source's parked events. */
  source: blankless(z.string({ error: 'source must be a single value' })),
});
/** A validated issues listing. */
export type IssuesQuery = z.infer<typeof issuesQuerySchema>;

/** POST /events/:id/discard and `intake events discard ID --reason R`. */
export const discardRequestSchema = z.object({
  /** Why it is discarded (kept in the workflow result). */
  reason: z.string().max(500, 'reason must be at most 500 characters').optional(),
});
/** A validated discard. */
export type DiscardRequest = z.infer<typeof discardRequestSchema>;

// strict: a misspelt option (`?dryrun=1`) must not start a real redrive of everything it matched.
/** POST /admin/retry-parked and `intake events retry --parked`. */
export const redriveRequestSchema = z.strictObject({
  /** Only this source's parked events. */
  source: z.string().optional(),
  /** Only this issue (12 hex digits, see `intake events issues`). */
  issue: z
    .string()
    .regex(/^[0-9a-f]{12}$/, 'issue must be an issue id (12 hex digits)')
    .optional(),
  /** Only count what would be retried, with the breakdown by issue; start nothing. */
  dryRun: flag.optional(),
  /** `N` events or `P%` of them resumed first; the rest only if every one of them is processed. */
  canary: canary.optional(),
  // Events per second: a rate of 1e-300 would send one signal and then wait for ages.
  /** Retry signals per second. */
  rate: z.coerce
    .number({ error: 'rate must be a number of signals per second' })
    .min(0.01, 'must be at least 0.01 per second')
    .max(10_000)
    .optional(),
});
/** A validated redrive request. */
export type RedriveRequest = Omit<z.infer<typeof redriveRequestSchema>, 'dryRun'> & { dryRun?: boolean };

/** POST /admin/replay (its JSON body) and `intake events replay`. */
export const replayRequestSchema = z.strictObject({
  /** Source name (required: a replay is of one source's events). */
  source: sourceName,
  /** Event type, e.g. `opened`. */
  type: z.string().min(1).max(200).optional(),
  /** Received at or after (ISO 8601 with a time zone). */
  since: z.iso.datetime({ offset: true }).optional(),
  /** Received at or before (ISO 8601); default: when the replay is asked for. */
  until: z.iso.datetime({ offset: true }).optional(),
  /** Event ids: `<source>:<eventId>` or just `<eventId>`. */
  ids: z.array(eventId).min(1).max(10_000).optional(),
  /** Status of the events' latest run; default `processed`. */
  status: z.enum(['processed', 'discarded']).optional(),
  /** Only count; replay nothing. */
  dryRun: z.boolean().optional(),
  /** Replay the first N (or P%) one at a time and stop at the first that parks. */
  canary: canary.optional(),
  /** Replays started per second. */
  rate: z.number().positive().max(10_000).optional(),
  /** Why: kept with the replay. */
  reason: z.string().trim().min(1, 'reason is required').max(500),
});
/** A validated replay request. */
export type ReplayRequest = z.infer<typeof replayRequestSchema>;

/** POST /admin/dead-letters/:id/drop|requeue and `intake events dead-letters drop|requeue ID`. */
export const deadLetterActionSchema = z.object({
  /** The dead letter's event id, `<source>:<eventId>`. */
  id: eventId,
  /** Delete it for good, or give it back to the relay. */
  action: z.enum(['drop', 'requeue']),
});
/** A validated dead-letter action. */
export type DeadLetterAction = z.infer<typeof deadLetterActionSchema>;

/** Parses an operator request with its schema; BadRequestError naming the first bad field. */
export function parseRequest<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const i = r.error.issues[0];
  if (i?.code === 'unrecognized_keys') {
    const known = schema instanceof z.ZodObject ? ` (known: ${Object.keys(schema.shape).join(', ')})` : '';
    throw new BadRequestError(`unknown option ${i.keys.map((k) => `"${k}"`).join(', ')}${known}`);
  }
  throw new BadRequestError(`${i?.path.join('.') || 'request'}: ${i?.message ?? 'invalid'}`);
}

/**
 * The options of POST /admin/retry-parked, from the query string and/or a JSON body (the body
 * wins; the CLI's spelling `dry-run` works too); BadRequestError naming the first bad field.
 */
export function parseRedriveRequest(query: unknown, body: unknown): RedriveRequest {
  const merged: Record<string, unknown> = {
    ...(query && typeof query === 'object' ? query : {}),
    ...(body && typeof body === 'object' && !Array.isArray(body) ? body : {}),
  };
  for (const alias of ['dry-run', 'dry_run']) {
    if (alias in merged) {
      merged.dryRun ??= merged[alias];
      delete merged[alias];
    }
  }
  const { dryRun, ...rest } = parseRequest(redriveRequestSchema, merged);
  return { ...rest, ...(dryRun ? { dryRun } : {}) };
}
