import { z } from 'zod';

/**
 * Zod building blocks every source schema uses, so that whatever a schema accepts the store and the
 * processing can hold: an event answered with a success code must be processable, not parked on
 * its first attempt by a PostgreSQL refusal that no retry can fix.
 */

/** 9999-12-31T23:59:59Z in Unix seconds: the last instant a JavaScript Date, ISO 8601 and PostgreSQL all hold. */
export const MAX_UNIX_SECONDS = 253_402_300_799;

// Without the `u` flag the regex sees UTF-16 code units, which is what a lone surrogate is.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * True when PostgreSQL `text`/`jsonb` can store `s`: no NUL (neither type holds U+0000) and no
 * unpaired surrogate (not a Unicode scalar value, so not encodable as UTF-8).
 */
export function isStorableText(s: string): boolean {
  return !s.includes('\0') && !LONE_SURROGATE.test(s);
}

/**
 * Characters refused in ids: controls (Cc), format characters (Cf: bidi overrides such as U+202E,
 * zero-width characters and the BOM U+FEFF), line and paragraph separators, and unpaired
 * surrogates (Cs). Ids show up in logs, search attributes, the Web UI and URLs, where such
 * characters hide or reorder what an operator reads.
 */
const ID_FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** The message used for a refused id. */
export const ID_MESSAGE =
  'must not contain control, format (bidi, zero-width) or unpaired surrogate characters';

/** True when `s` is acceptable as an id (see ID_FORBIDDEN). */
export function isSafeId(s: string): boolean {
  return !ID_FORBIDDEN.test(s);
}

/** An id of 1..`max` characters without control, format or unpaired surrogate characters. */
export const safeId = (max: number) => z.string().min(1).max(max).refine(isSafeId, ID_MESSAGE);

/** A text field the store keeps: no NUL, no unpaired surrogate. */
export const storableString = () =>
  z.string().refine(isStorableText, 'must not contain NUL or unpaired surrogate characters');

/** Unix seconds (fractions allowed) between the epoch (exclusive) and the end of year 9999. */
export const unixSeconds = () =>
  z.number().positive().max(MAX_UNIX_SECONDS, 'must be a Unix time in seconds no later than 9999-12-31');

/** The message for a UTC offset PostgreSQL cannot hold. */
export const OFFSET_MESSAGE = 'UTC offset must be within -15:59 and +15:59';

/**
 * True when the UTC offset at the end of an ISO 8601 date-time (`Z` or `±HH:MM`) is one PostgreSQL's
 * timestamptz holds: at most 15:59 either way. zod accepts up to ±23:59, so `+16:00` passed the
 * schema, was acknowledged, and parked at its first write.
 */
export function isStorableOffset(v: string): boolean {
  const m = /([+-])(\d{2}):(\d{2})$/.exec(v);
  return !m || Number(m[2]) * 60 + Number(m[3]) <= 15 * 60 + 59;
}

/**
 * An ISO 8601 date-time with `Z` or a numeric offset that the store can hold: year 0001 or later
 * (year 0000 is valid ISO 8601 but out of PostgreSQL's range) and an offset within ±15:59.
 */
export const storableDateTime = () =>
  z.iso
    .datetime({ offset: true })
    .refine((v) => !v.startsWith('0000'), 'year must be 0001 or later')
    .refine(isStorableOffset, OFFSET_MESSAGE);

/** Most issues reported for one body: enough to fix it, not an amplifier. */
const MAX_DEEP_ISSUES = 10;

/**
 * A check over a whole parsed JSON body (keys, strings and numbers at any depth, including fields
 * the schema does not name, since loose objects keep them and the store or the workflow history
 * holds them): every string and key is storable text and every number finite (JSON.parse turns
 * `1e400` into Infinity, which JSON.stringify then silently writes as null). Issues carry the path.
 */
export function storableJson(ctx: z.core.$RefinementCtx<unknown>, value: unknown): void {
  let count = 0;
  const report = (path: (string | number)[], message: string) => {
    if (count++ < MAX_DEEP_ISSUES) ctx.addIssue({ code: 'custom', path, message, input: undefined });
  };
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (count >= MAX_DEEP_ISSUES) return;
    if (typeof v === 'string') {
      if (!isStorableText(v)) report(path, 'must not contain NUL or unpaired surrogate characters');
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) report(path, 'must be a finite number');
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, [...path, i]));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        if (!isStorableText(k))
          report([...path, k], 'key must not contain NUL or unpaired surrogate characters');
        walk(item, [...path, k]);
      }
    }
  };
  walk(value, []);
}
