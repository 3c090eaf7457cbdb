/** Index just past the JSON string whose opening quote is at `i` (or raw.length if it never ends). */
function skipString(raw: Buffer, i: number): number {
  for (i++; i < raw.length; i++) {
    const c = raw[i];
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22 /* " */) return i + 1;
  }
  return raw.length;
}

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * The raw bytes of the value of `key` in the top-level JSON object of `raw`, without parsing the
 * rest: one pass over the bytes that only tracks strings and nesting (a quote or backslash byte never
 * occurs inside a multi-byte UTF-8 character, so bytes are enough). Undefined when the body is not an
 * object, has no such member, or the value is not an object of at most `maxValueBytes`.
 *
 * For signatures that live inside the body: the block is checked before the full,
 * comparatively costly parse (strict scan and JSON.parse of up to INTAKE_MAX_BODY_BYTES), so an
 * unsigned body costs a byte scan, not a parse. The full parse still runs for signed bodies and the
 * signature is checked again on its result, so the two can never disagree about what was accepted
 * (a body with the key twice is refused by the strict parse).
 */
export function topLevelObjectMember(raw: Buffer, key: string, maxValueBytes = 4096): Buffer | undefined {
  let i = 0;
  while (isSpace(raw[i])) i++;
  if (raw[i] !== 0x7b /* { */) return undefined;
  let depth = 0;
  let expectKey = false;
  for (; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x22) {
      const end = skipString(raw, i);
      if (depth === 1 && expectKey) {
        expectKey = false;
        const text = raw.subarray(i + 1, end - 1);
        const name = text.includes(0x5c) ? decodeKeyOrUndefined(raw.subarray(i, end)) : text.toString('utf8');
        if (name === key) return objectValueAfter(raw, end, maxValueBytes);
      }
      i = end - 1;
    } else if (c === 0x7b || c === 0x5b /* [ */) {
      depth++;
      expectKey = depth === 1;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
      if (depth <= 0) return undefined;
    } else if (c === 0x2c /* , */ && depth === 1) expectKey = true;
  }
  return undefined;
}

function decodeKeyOrUndefined(quoted: Buffer): string | undefined {
  try {
    return JSON.parse(quoted.toString('utf8')) as string;
  } catch {
    return undefined;
  }
}

/** The object value after a key ending at `i` (`: {…}`), if it is one of at most `max` bytes. */
function objectValueAfter(raw: Buffer, i: number, max: number): Buffer | undefined {
  while (isSpace(raw[i])) i++;
  if (raw[i] !== 0x3a /* : */) return undefined;
  i++;
  while (isSpace(raw[i])) i++;
  if (raw[i] !== 0x7b) return undefined;
  const start = i;
  let depth = 0;
  for (; i < raw.length && i - start <= max; i++) {
    const c = raw[i]!;
    if (c === 0x22) i = skipString(raw, i) - 1;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return raw.subarray(start, i + 1);
    }
  }
  return undefined;
}
