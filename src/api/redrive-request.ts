import { z } from 'zod';
import { BadRequestError } from '../errors';
import type { RedriveRequest } from '../events/redrive-service';

const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1' || v === ''),
]);

const schema = z.object({
  source: z.string().optional(),
  issue: z.string().optional(),
  dryRun: flag.optional(),
  canary: z.union([z.string(), z.number().transform(String)]).optional(),
  rate: z.coerce.number().optional(),
});

/**
 * The options of POST /admin/retry-parked, from the query string and/or a JSON body (the body
 * wins); BadRequestError naming the first bad field.
 */
export function redriveRequest(query: unknown, body: unknown): RedriveRequest {
  const merged = {
    ...(query && typeof query === 'object' ? query : {}),
    ...(body && typeof body === 'object' && !Array.isArray(body) ? body : {}),
  };
  const r = schema.safeParse(merged);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new BadRequestError(`${i?.path.join('.') || 'request'}: ${i?.message ?? 'invalid'}`);
  }
  const { dryRun, ...rest } = r.data;
  return { ...rest, ...(dryRun ? { dryRun } : {}) };
}
