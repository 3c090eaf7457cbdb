import { InvalidJsonError } from '../errors';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Deepest object/array nesting accepted; real webhooks stay far below it. */
export const MAX_JSON_DEPTH = 32;

/** One open object or array during the structure scan. */
interface Frame {
  /** Keys seen so far; undefined for arrays. */
  keys?: Set<string>;
  /** True while the next string in this object is a key (after `{` or `,`). */
  expectKey: boolean;
  /** The latest key of this object: the key under which a nested value is opened. */
  lastKey?: string;
  /** The key this object was opened under in its parent object. */
  openedUnder?: string;
}

/**
 * One linear pass over the text that JSON.parse cannot do for us: nesting depth (before the
 * recursive parse sees it), duplicate keys (JSON.parse silently keeps the last one, so two parties
 * reading the same signed bytes could disagree about the content) and prototype-poisoning keys.
 *
 * Written by hand on purpose: it is ~50 lines, has no dependencies, and the libraries that detect
 * duplicates (e.g. json-dup-key-validator) are unmaintained or do a second full parse;
 * secure-json-parse covers only the prototype keys. The scan leaves syntax to JSON.parse, which runs
 * after it: on malformed text the scan may report anything, which is still answered as invalid JSON.
 */
function scanStructure(text: string, maxDepth: number): void {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 34 /* " */) {
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i++;
        else if (d === 34) break;
      }
      if (top?.keys && top.expectKey) {
        const raw = text.slice(start, i + 1);
        checkKey(top, raw.includes('\\') ? decodeKey(raw) : raw.slice(1, -1));
        top.expectKey = false;
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (stack.length >= maxDepth) throw new InvalidJsonError(`JSON nesting deeper than ${maxDepth}`);
      stack.push(
        c === 123
          ? { keys: new Set(), expectKey: true, openedUnder: top?.keys ? top.lastKey : undefined }
          : { expectKey: false },
      );
    } else if (c === 125 /* } */ || c === 93 /* ] */) stack.pop();
    else if (c === 44 /* , */ && top?.keys) top.expectKey = true;
  }
}

function decodeKey(raw: string): string {
  try {
    return JSON.parse(raw) as string;
  } catch {
    throw new InvalidJsonError('body is not valid JSON');
  }
}

function checkKey(frame: Frame, key: string): void {
  // `__proto__` becomes a prototype setter in any naive copy or merge of the parsed object, and
  // `constructor.prototype` reaches Object.prototype the same way; no webhook needs either.
  if (key === '__proto__' || (key === 'prototype' && frame.openedUnder === 'constructor')) {
    throw new InvalidJsonError('forbidden key in JSON object');
  }
  if (frame.keys?.has(key)) throw new InvalidJsonError('duplicate key in JSON object');
  frame.keys?.add(key);
  frame.lastKey = key;
}

/**
 * Strict JSON for webhook bodies: valid UTF-8 (a leading BOM is dropped), not empty, a JSON object
 * at the top, nesting of at most MAX_JSON_DEPTH, no duplicate keys, no `__proto__` or
 * `constructor.prototype` keys. The size limit is enforced earlier, while the body streams in.
 * Throws InvalidJsonError with a reason that never quotes the body.
 */
export function parseJsonStrict(raw: Buffer, maxDepth: number = MAX_JSON_DEPTH): unknown {
  if (raw.length === 0) throw new InvalidJsonError('body is empty');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new InvalidJsonError('body is not valid UTF-8');
  }
  // Before JSON.parse: a megabyte of `[` takes V8 seconds to parse, the scan stops at depth 33.
  scanStructure(text, maxDepth);
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
