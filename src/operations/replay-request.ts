import { z } from 'zod';
import { BadRequestError } from '../errors';

/**
 * The one schema of a replay request: the JSON body of POST /admin/replay, and what
 * `intake events replay` builds from its flags before it sends it (so both refuse the same things).
 */
export const replayRequestSchema = z.strictObject({
  /** Source name (required: a replay is of one source's events). */
  source: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'source must be [a-z0-9_-]'),
  /** Event type, e.g. `opened`. */
  type: z.string().min(1).max(200).optional(),
  /** Received at or after (ISO 8601 with a time zone). */
  since: z.iso.datetime({ offset: true }).optional(),
  /** Received at or before (ISO 8601); default: when the replay is asked for. */
  until: z.iso.datetime({ offset: true }).optional(),
  /** Event ids: `<source>:<eventId>` or just `<eventId>`. */
  ids: z
    .array(z.string().regex(/^[\x21-\x7e]{1,300}$/, 'ids must be printable ASCII'))
    .min(1)
    .max(10_000)
    .optional(),
  /** Status of the events' latest run; default `processed`. */
  status: z.enum(['processed', 'discarded']).optional(),
  /** Only count; replay nothing. */
  dryRun: z.boolean().optional(),
  /** Replay the first N (or P%) one at a time and stop at the first that parks. */
  canary: z
    .union([z.number().int().positive().transform(String), z.string()])
    .pipe(z.string().regex(/^(\d{1,6}|\d{1,3}(\.\d+)?%)$/, 'canary must be N or P% (e.g. 5 or 10%)'))
    .optional(),
  /** Replays started per second. */
  rate: z.number().positive().max(10_000).optional(),
  /** Why: kept with the replay. */
  reason: z.string().trim().min(1, 'reason is required').max(500),
});

/** A validated replay request. */
export type ReplayRequest = z.infer<typeof replayRequestSchema>;

/** Parses a replay request; BadRequestError naming the first bad field. */
export function parseReplayRequest(body: unknown): ReplayRequest {
  const r = replayRequestSchema.safeParse(body);
  if (r.success) return r.data;
  const i = r.error.issues[0];
  if (i?.code === 'unrecognized_keys')
    throw new BadRequestError(
      `unknown option ${i.keys.map((k) => `"${k}"`).join(', ')} (known: ${Object.keys(replayRequestSchema.shape).join(', ')})`,
    );
  throw new BadRequestError(`${i?.path.join('.') || 'request'}: ${i?.message ?? 'invalid'}`);
}
