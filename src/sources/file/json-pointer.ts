/**
 * RFC 6901 JSON Pointer lookup (`/data/object/id`, `~1` for `/`, `~0` for `~`). Written here because
 * it is ten lines and Intake only reads through pointers; a library would add a dependency for it.
 */

/** True when `pointer` is a syntactically valid JSON Pointer (empty = the whole document). */
export function isJsonPointer(pointer: string): boolean {
  return pointer === '' || (/^\//.test(pointer) && !/~[^01]|~$/.test(pointer));
}

/** The pointer's reference tokens, unescaped. */
export function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The value `pointer` refers to in `doc`, or undefined when there is none. */
export function resolvePointer(doc: unknown, pointer: string): unknown {
  let cur: unknown = doc;
  for (const token of pointerTokens(pointer)) {
    if (Array.isArray(cur) && /^(0|[1-9]\d*)$/.test(token)) cur = cur[Number(token)];
    else if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, token))
      cur = (cur as Record<string, unknown>)[token];
    else return undefined;
  }
  return cur;
}

/** `doc` with the value at `pointer` set (objects created on the way); used to build examples. */
export function setPointer(doc: Record<string, unknown>, pointer: string, value: unknown): void {
  const tokens = pointerTokens(pointer);
  let cur: Record<string, unknown> = doc;
  tokens.forEach((t, i) => {
    if (i === tokens.length - 1) cur[t] = value;
    else {
      const next = cur[t];
      if (next === null || typeof next !== 'object') cur[t] = {};
      cur = cur[t] as Record<string, unknown>;
    }
  });
}

/** The value at `pointer` as an id-like string (a string, or a number written as JSON writes it). */
export function pointerString(doc: unknown, pointer: string): string | undefined {
  const v = resolvePointer(doc, pointer);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}
