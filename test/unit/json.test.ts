import { MAX_JSON_DEPTH, parseJsonStrict } from '../../src/sources/json';
import { InvalidJsonError } from '../../src/errors';

const parse = (s: string | Buffer) => parseJsonStrict(Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'));
const reason = (s: string | Buffer): string => {
  try {
    parse(s);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidJsonError);
    return (err as Error).message;
  }
  throw new Error('expected InvalidJsonError');
};
const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('parseJsonStrict', () => {
  it('parses a JSON object and keeps every key, including "constructor" as plain data', () => {
    expect(parse('{"a":1,"b":{"c":[1,{"d":null}]},"constructor":"x"}')).toEqual({
      a: 1,
      b: { c: [1, { d: null }] },
      constructor: 'x',
    });
  });

  it('drops a leading UTF-8 BOM', () => {
    expect(parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]))).toEqual({ a: 1 });
  });

  it.each([
    ['an empty body', '', 'body is empty'],
    ['truncated JSON', '{"a":', 'body is not valid JSON'],
    ['trailing garbage', '{"a":1} x', 'body is not valid JSON'],
    ['a top-level array', '[1,2]', 'body must be a JSON object'],
    ['a top-level string', '"x"', 'body must be a JSON object'],
    ['a top-level null', 'null', 'body must be a JSON object'],
  ])('refuses %s', (_what, body, why) => {
    expect(reason(body)).toBe(why);
  });

  it('refuses bytes that are not UTF-8 (a lone continuation byte, an overlong encoding)', () => {
    expect(reason(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))).toBe(
      'body is not valid UTF-8',
    );
    expect(reason(Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]))).toBe(
      'body is not valid UTF-8',
    );
  });

  it(`accepts nesting up to ${MAX_JSON_DEPTH} and refuses deeper, also for arrays`, () => {
    expect(parse(nested(MAX_JSON_DEPTH))).toBeDefined();
    expect(reason(nested(MAX_JSON_DEPTH + 1))).toBe(`JSON nesting deeper than ${MAX_JSON_DEPTH}`);
    expect(reason(`{"a":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`)).toBe(
      `JSON nesting deeper than ${MAX_JSON_DEPTH}`,
    );
    // Brackets inside strings (also after escaped quotes) are not structure.
    expect(parse(`{"a":"${'[{'.repeat(100)}\\"${'['.repeat(100)}"}`)).toBeDefined();
  });

  it('stops a megabyte of brackets at the depth limit instead of parsing it', () => {
    expect(reason('['.repeat(1 << 20))).toBe(`JSON nesting deeper than ${MAX_JSON_DEPTH}`);
  });

  it('refuses duplicate keys at any level, also when spelled with escapes', () => {
    expect(reason('{"a":1,"a":2}')).toBe('duplicate key in JSON object');
    expect(reason('{"x":{"b":1,"c":2,"b":3}}')).toBe('duplicate key in JSON object');
    expect(reason('{"x":[{"k":1},{"k":2,"k":3}]}')).toBe('duplicate key in JSON object');
    expect(reason('{"id":1,"\\u0069d":2}')).toBe('duplicate key in JSON object');
  });

  it('allows the same key in sibling objects and as a string value', () => {
    expect(parse('{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":1}],"d":"a","e":"a"}')).toBeDefined();
    expect(parse('{"a":"b","b":"a"}')).toEqual({ a: 'b', b: 'a' });
  });

  it('refuses __proto__ and constructor.prototype keys, and nothing is polluted', () => {
    expect(reason('{"__proto__":{"polluted":true}}')).toBe('forbidden key in JSON object');
    expect(reason('{"a":{"\\u005f_proto__":{"polluted":true}}}')).toBe('forbidden key in JSON object');
    expect(reason('{"constructor":{"prototype":{"polluted":true}}}')).toBe('forbidden key in JSON object');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // `prototype` elsewhere is ordinary data.
    expect(parse('{"prototype":1,"x":{"prototype":2}}')).toEqual({ prototype: 1, x: { prototype: 2 } });
  });

  it('never quotes the body in its reason', () => {
    const secret = 'alice@example.com';
    for (const body of [`{"e":"${secret}"`, `{"e":"${secret}","e":1}`, `["${secret}"]`]) {
      expect(reason(body)).not.toContain(secret);
    }
  });
});
