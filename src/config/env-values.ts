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

/** The highest TCP port. */
export const MAX_PORT = 65_535;

/**
 * `host:port` split at the last colon (an IPv6 host in brackets keeps its colons), or why it is not
 * one, worded to follow the variable's name: an empty host, a port that is not a whole number, or
 * one outside 1-65535.
 */
export function splitHostPort(address: string): { host: string; port: number } | string {
  const idx = address.lastIndexOf(':');
  const host = address.slice(0, idx);
  const portText = address.slice(idx + 1);
  if (idx < 0 || !host || /\s/.test(address))
    return `must be host:port (e.g. 127.0.0.1:7233), not "${address}"`;
  if (!/^\d+$/.test(portText)) return `must end in a numeric port after the last colon, not "${address}"`;
  const port = Number(portText);
  if (port < 1 || port > MAX_PORT) return `has port ${portText}, outside 1-${MAX_PORT} ("${address}")`;
  return { host, port };
}

/** A `host:port` variable, `def` when unset or empty, with messages naming the variable. */
export const hostPortString = (name: string, def: string) =>
  stringWithDefault(def).superRefine((v, ctx) => {
    const split = splitHostPort(v);
    if (typeof split === 'string') ctx.addIssue({ code: 'custom', message: `${name} ${split}` });
  });

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
