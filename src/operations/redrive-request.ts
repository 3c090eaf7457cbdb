import { z } from 'zod';
import { BadRequestError } from '../errors';
import type { RedriveRequest } from './redrive-service';

const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1' || v === ''),
]);

// strict: a misspelt option (`?dryrun=1`) must not start a real redrive of everything it matched.
const schema = z.strictObject({
  source: z.string().optional(),
  issue: z.string().optional(),
  dryRun: flag.optional(),
  canary: z.union([z.string(), z.number().transform(String)]).optional(),
  // Events per second: a rate of 1e-300 would send one signal and then wait for ages.
  rate: z.coerce.number().min(0.01, 'must be at least 0.01 per second').max(10_000).optional(),
});

/**
 * The options of POST /admin/retry-parked, from the query string and/or a JSON body (the body
 * wins); BadRequestError naming the first bad field.
 */
export function redriveRequest(query: unknown, body: unknown): RedriveRequest {
  const merged: Record<string, unknown> = {
    ...(query && typeof query === 'object' ? query : {}),
    ...(body && typeof body === 'object' && !Array.isArray(body) ? body : {}),
  };
  // The CLI's spelling (`--dry-run`) works too.
  for (const alias of ['dry-run', 'dry_run']) {
    if (alias in merged) {
      merged.dryRun ??= merged[alias];
      delete merged[alias];
    }
  }
  const r = schema.safeParse(merged);
  if (!r.success) {
    const i = r.error.issues[0];
    if (i?.code === 'unrecognized_keys') {
      throw new BadRequestError(
        `unknown option ${i.keys.map((k) => `"${k}"`).join(', ')} (known: ${Object.keys(schema.shape).join(', ')})`,
      );
    }
    throw new BadRequestError(`${i?.path.join('.') || 'request'}: ${i?.message ?? 'invalid'}`);
  }
  const { dryRun, ...rest } = r.data;
  return { ...rest, ...(dryRun ? { dryRun } : {}) };
}
