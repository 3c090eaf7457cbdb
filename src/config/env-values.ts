import { z } from 'zod';

/**
 * Zod building blocks for environment variables, shared by src/config/index.ts and the sources' own
 * variables (Source.env), so every variable is parsed the same way and in one pass.
 */

/** An empty or blank value counts as unset. */
export const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** An optional string variable; empty means unset. */
export const optionalString = z.preprocess(emptyToUndefined, z.string().optional());

/** A string variable, `def` when unset or empty (`PORT=` in a compose file means "the default"). */
export const stringWithDefault = (def: string) => z.preprocess(emptyToUndefined, z.string().default(def));

/** A whole number of at least `min`, `def` when unset or empty, with messages naming the variable. */
export const intString = (name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ message: `${name} must be a number` })
      .int(`${name} must be a whole number`)
      .min(min, `${name} must be at least ${min}`)
      .max(max, `${name} must be at most ${max}`)
      .default(def),
  );
