import fs from 'node:fs';
import path from 'node:path';

/**
 * Dependencies point one way (STYLE.md, "Layout tells the architecture"): the product (src/,
 * workflows/, activities/) and the build scripts never import from bench/ or test/, so the bench
 * can change freely and nothing the service runs depends on a harness.
 */
const ROOT = path.join(__dirname, '..', '..');
const PRODUCT = ['src', 'workflows', 'activities', 'scripts', 'bin'];
const FORBIDDEN = ['bench', 'test'];

function filesUnder(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs, { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return filesUnder(rel);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [rel] : [];
  });
}

/** Relative module specifiers of a file: static and dynamic imports, re-exports and requires. */
function specifiersOf(text: string): string[] {
  const re =
    /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\brequire(?:\.resolve)?\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;
  return [...text.matchAll(re)].map((m) => m[2]!);
}

/** `file -> specifier` for every import of `files` that lands in a forbidden top-level folder. */
function crossings(files: string[], read: (f: string) => string): string[] {
  return files.flatMap((file) =>
    specifiersOf(read(file)).flatMap((spec) => {
      const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
      const top = target.split(path.sep)[0]!;
      return FORBIDDEN.includes(top) ? [`${file} -> ${spec}`] : [];
    }),
  );
}

describe('import fence', () => {
  const files = PRODUCT.flatMap(filesUnder);

  it('reads the product tree', () => {
    expect(files).toContain('src/ingest/pipeline.ts');
    expect(files.length).toBeGreaterThan(50);
  });

  it('nothing in src/, workflows/, activities/ or scripts/ imports from bench/ or test/', () => {
    expect(crossings(files, (f) => fs.readFileSync(path.join(ROOT, f), 'utf8'))).toEqual([]);
  });

  it('the check reports an import into bench/ or test/ (control)', () => {
    const fake: Record<string, string> = {
      'src/ingest/pipeline.ts':
        "import { x } from '../../bench/lib/children';\nconst y = require('../../test/support/harness');",
      'scripts/a.ts': "export * from '../bench/drain';\nconst z = await import('../src/errors');",
    };
    expect(crossings(Object.keys(fake), (f) => fake[f]!)).toEqual([
      'src/ingest/pipeline.ts -> ../../bench/lib/children',
      'src/ingest/pipeline.ts -> ../../test/support/harness',
      'scripts/a.ts -> ../bench/drain',
    ]);
  });
});
