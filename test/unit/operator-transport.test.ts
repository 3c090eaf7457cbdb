import fs from 'node:fs';
import path from 'node:path';

/**
 * Issue 21, one front door for operators: every `intake events …` command goes through the admin
 * HTTP API (src/cli/operator-client.ts), never to Temporal on its own. So nothing the events
 * command loads, directly or through other modules, imports the Temporal client or src/temporal,
 * and only the operator client sends HTTP requests.
 */
const ROOT = path.join(__dirname, '..', '..');
const ENTRY = 'src/cli/events.ts';

/** Value imports of a file (type-only imports load nothing at run time). */
function valueImports(text: string): string[] {
  const re = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\s+from\s+)?(['"])([^'"]+)\1/gm;
  return [...text.matchAll(re)].map((m) => m[2]!);
}

function resolve(from: string, spec: string): string | undefined {
  const base = path.resolve(ROOT, path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate)) return path.relative(ROOT, candidate);
  }
  return undefined;
}

/** Every project module `entry` loads, with the package imports of each. */
function graph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    const specs = valueImports(fs.readFileSync(path.join(ROOT, file), 'utf8'));
    seen.set(
      file,
      specs.filter((s) => !s.startsWith('.')),
    );
    for (const s of specs.filter((x) => x.startsWith('.'))) {
      const target = resolve(file, s);
      if (target) todo.push(target);
    }
  }
  return seen;
}

describe('the operator commands have one transport', () => {
  const modules = graph(ENTRY);

  it('reads the graph of `intake events`', () => {
    expect([...modules.keys()]).toEqual(
      expect.arrayContaining([ENTRY, 'src/cli/operator-client.ts', 'src/operations/requests.ts']),
    );
  });

  it('loads neither the Temporal client nor src/temporal', () => {
    const temporal = [...modules].flatMap(([file, packages]) => [
      ...(file.startsWith('src/temporal/') ? [file] : []),
      ...packages.filter((p) => p.startsWith('@temporalio/')).map((p) => `${file} -> ${p}`),
    ]);
    expect(temporal).toEqual([]);
  });

  it('only the operator client sends requests (through reach.ts, which names the URL it tried)', () => {
    const callers = [...modules.keys()].filter((f) =>
      /\bfetchApi\(|\bfetch\(/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')),
    );
    expect(callers.sort()).toEqual(['src/cli/operator-client.ts', 'src/cli/reach.ts']);
  });
});
