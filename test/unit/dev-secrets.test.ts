import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { applyDevSecrets, loadOrCreateDevSecrets, readDevSecrets } from '../../src/dev/dev-secrets';
import { settingsOf } from '../../src/sources/types';
import { buildRegistry } from '../../src/sources/registry';

const registry = buildRegistry();
const sources = registry.all;

/** The variables `intake dev` generates for `list`, in registry order (Source.devSecrets). */
const generatedVariables = (list: readonly (typeof sources)[number][]) =>
  list.flatMap((s) => Object.keys(s.devSecrets()));

/** Development secrets derive from the sources' own `devSecrets` and `settings`. */
describe('dev secrets', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-dev-secrets-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('generates every source its variables once, and keeps them (mode 0600)', () => {
    const first = loadOrCreateDevSecrets(dir, sources);
    for (const source of sources)
      expect(Object.keys(source.env).some((v) => first.env[v] !== undefined)).toBe(true);
    expect(loadOrCreateDevSecrets(dir, sources)).toEqual(first);
    expect(fs.statSync(path.join(dir, 'dev-secrets.json')).mode & 0o777).toBe(0o600);
  });

  it('fills only the sources the environment gave no secret, and reports what it generated', () => {
    const secrets = loadOrCreateDevSecrets(dir, sources);
    // The first source gets its secret from the environment; every other one is generated.
    const [given, ...others] = sources;
    const givenEnv = given!.devSecrets();
    const config = loadConfig(givenEnv);
    const { config: next, generated } = applyDevSecrets(config, secrets);
    expect(settingsOf(next, given!)).toEqual(settingsOf(config, given!));
    for (const source of others) {
      expect(source.configured.hasSecrets(next)).toBe(true);
      // The config it started from is unchanged.
      expect(source.configured.hasSecrets(config)).toBe(false);
    }
    expect(generated.map((g) => g.variable)).toEqual([...generatedVariables(others), 'INTAKE_ADMIN_TOKEN']);
    expect(generated.map((g) => g.variable)).not.toContain(Object.keys(givenEnv)[0]);
  });

  it('keeps the admin token of a file written before sources declared their variables', () => {
    fs.writeFileSync(
      path.join(dir, 'dev-secrets.json'),
      JSON.stringify({ mailgunSigningKey: 'old', partnerSecrets: {}, adminToken: 'kept-token' }),
    );
    expect(readDevSecrets(dir)?.adminToken).toBe('kept-token');
    const secrets = loadOrCreateDevSecrets(dir, sources);
    expect(secrets.adminToken).toBe('kept-token');
    expect(applyDevSecrets(loadConfig({}), secrets).generated.map((g) => g.variable)).toEqual([
      ...generatedVariables(sources),
      'INTAKE_ADMIN_TOKEN',
    ]);
  });
});
