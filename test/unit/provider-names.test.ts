import fs from 'node:fs';
import path from 'node:path';
import { presets } from '../../src/sources/presets';
import { codeSources } from '../../src/sources/registry';

/**
 * "A provider is data (a preset) or one code source": outside its preset file or its source file,
 * its activity, its repository modules and the registry lines that list them, nothing in src/ or
 * activities/ names a provider.
 * The list of providers derives from the registry's code sources and the preset catalog, so a new
 * preset or source is checked without editing this test. The SQL migrations are the repositories'
 * schema history (immutable once applied), so they may name their tables. `standard-webhooks` is
 * the standard Intake itself speaks (partners, deliveries), not a provider.
 */
const ROOT = path.join(__dirname, '..', '..');

/** Files beyond the source's own that may name it (the repositories of a code source's processing). */
const REPOSITORIES: Record<string, string[]> = {
  mailgun: ['src/store/messages-repo.ts', 'src/store/token-bindings-repo.ts'],
  partners: ['src/store/customers-repo.ts'],
};

const existing = (file: string) => fs.existsSync(path.join(ROOT, file));

/**
 * The files that may name `name`: its source file, its activity, its preset file, its repositories
 * and the two registries.
 */
function allowedFor(name: string): string[] {
  return [
    `src/sources/${name}.ts`,
    `activities/${name}.ts`,
    `src/sources/presets/${name}.ts`,
    ...(REPOSITORIES[name] ?? []),
    'src/sources/registry.ts',
    'src/sources/presets/index.ts',
  ].filter(existing);
}

/** A pattern for the name as a word; `github.com` (Go module paths) is not the provider. */
const patternFor = (name: string) => new RegExp(`\\b${name}\\b(?!\\.com)`, 'i');

const PROVIDERS = [...new Set([...codeSources().map((s) => s.name), ...presets.keys()])]
  .filter((name) => name !== 'standard-webhooks')
  .map((name) => ({ name, pattern: patternFor(name), allowed: allowedFor(name) }));

const isMigration = (file: string) => file.startsWith('src/store/migrations/');

function filesUnder(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    return e.isDirectory() ? filesUnder(rel) : [rel];
  });
}

/** The folders scanned: the service and its processing. */
const SCANNED = ['src', 'activities'];

/** `file:line` of every line in src/ or activities/ naming the provider outside its allowed files. */
function offenders(pattern: RegExp, allowed: string[]): string[] {
  return SCANNED.flatMap(filesUnder)
    .filter((file) => !allowed.includes(file) && !isMigration(file))
    .flatMap((file) =>
      fs
        .readFileSync(path.join(ROOT, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => (pattern.test(line) ? [`${file}:${i + 1}`] : [])),
    );
}

describe('provider names stay in their source or preset, repository and registry', () => {
  it('covers the code sources and every preset', () => {
    expect(PROVIDERS.map((p) => p.name)).toEqual(
      expect.arrayContaining(['mailgun', 'partners', 'github', 'stripe', 'shopify', 'slack']),
    );
  });

  it.each(PROVIDERS)('$name appears nowhere else in src/ or activities/', ({ pattern, allowed }) => {
    expect(offenders(pattern, allowed)).toEqual([]);
  });

  it('the check finds a provider name where one is (control)', () => {
    // Without the allow list, the source and preset files must be reported: the scan reads what it should.
    expect(offenders(/mailgun/i, [])).toContainEqual(
      expect.stringMatching(/^src\/sources\/mailgun\.ts:\d+$/),
    );
    expect(offenders(patternFor('github'), [])).toContainEqual(
      expect.stringMatching(/^src\/sources\/presets\/github\.ts:\d+$/),
    );
    // activities/ is scanned too: a code source's activity is reported without its allowance.
    expect(offenders(/mailgun/i, [])).toContainEqual(expect.stringMatching(/^activities\/mailgun\.ts:\d+$/));
    // A Go module path is not the provider.
    expect(patternFor('github').test('go install github.com/temporalio/cli')).toBe(false);
  });
});
