import { InvalidJsonError } from '../errors';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Deepest object/array nesting accepted; real webhooks stay far below it. */
export const MAX_JSON_DEPTH = 32;

/** Nesting depth of a JSON text, counted on the bytes, ignoring brackets inside strings. */
function depthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash escapes the next character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/**
 * Strict JSON for webhook bodies: valid UTF-8, not empty, a JSON object at the top, bounded nesting.
 * Throws InvalidJsonError with a reason that never quotes the body.
 */
export function parseJsonStrict(raw: Buffer): unknown {
  if (raw.length === 0) throw new InvalidJsonError('body is empty');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new InvalidJsonError('body is not valid UTF-8');
  }
  if (depthExceeds(text, MAX_JSON_DEPTH))
    throw new InvalidJsonError(`JSON nesting deeper than ${MAX_JSON_DEPTH}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidJsonError('body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidJsonError('body must be a JSON object');
  }
  return value;
}
