import fs from 'node:fs';
import path from 'node:path';

/**
 * "One source = one file in src/sources/ + one activity + a registry line": outside its source file,
 * its repository modules and the registry, nothing in src/ names a provider. Config, dev secrets,
 * `intake send`, the routes and the worker derive from the registry instead. The SQL migrations are
 * the repositories' schema history (immutable once applied), so they may name their tables.
 */
const ROOT = path.join(__dirname, '..', '..');

const PROVIDERS: { name: string; pattern: RegExp; allowed: string[] }[] = [
  {
    name: 'mailgun',
    pattern: /mailgun/i,
    allowed: [
      'src/sources/mailgun.ts',
      'src/store/messages-repo.ts',
      'src/store/token-bindings-repo.ts',
      'src/sources/registry.ts',
    ],
  },
  {
    name: 'partners',
    pattern: /\bpartners\b/i,
    allowed: ['src/sources/partners.ts', 'src/store/customers-repo.ts', 'src/sources/registry.ts'],
  },
];

const isMigration = (file: string) => file.startsWith('src/store/migrations/');

function filesUnder(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    return e.isDirectory() ? filesUnder(rel) : [rel];
  });
}

/** `file:line` of every line in src/ naming the provider outside its allowed files. */
function offenders(pattern: RegExp, allowed: string[]): string[] {
  return filesUnder('src')
    .filter((file) => !allowed.includes(file) && !isMigration(file))
    .flatMap((file) =>
      fs
        .readFileSync(path.join(ROOT, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => (pattern.test(line) ? [`${file}:${i + 1}`] : [])),
    );
}

describe('provider names stay in their source, repository and registry', () => {
  it.each(PROVIDERS)('$name appears nowhere else in src/', ({ pattern, allowed }) => {
    expect(offenders(pattern, allowed)).toEqual([]);
  });

  it('the check finds a provider name where one is (control)', () => {
    // Without the allow list, the source file itself must be reported: the scan reads what it should.
    expect(offenders(/mailgun/i, [])).toContainEqual(
      expect.stringMatching(/^src\/sources\/mailgun\.ts:\d+$/),
    );
    for (const { allowed } of PROVIDERS)
      for (const file of allowed) expect(fs.existsSync(path.join(ROOT, file))).toBe(true);
  });
});
