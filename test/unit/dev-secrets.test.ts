import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { applyDevSecrets, loadOrCreateDevSecrets, readDevSecrets } from '../../src/dev/dev-secrets';
import { settingsOf } from '../../src/sources/types';
import { buildRegistry } from '../../src/sources/registry';

const registry = buildRegistry();
const sources = registry.all;
const findSource = (name: string) => registry.find(name);

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
    const config = loadConfig({ MAILGUN_SIGNING_KEY: 'given-key' });
    const { config: next, generated } = applyDevSecrets(config, secrets);
    const mailgun = findSource('mailgun')!;
    const partners = findSource('partners')!;
    expect(settingsOf(next, mailgun)).toEqual({ signingKey: 'given-key' });
    expect(partners.hasSecrets(settingsOf(next, partners) as never)).toBe(true);
    expect(generated.map((g) => g.variable)).toEqual(['INTAKE_PARTNER_SECRETS', 'INTAKE_ADMIN_TOKEN']);
    // The config it started from is unchanged.
    expect(partners.hasSecrets(settingsOf(config, partners) as never)).toBe(false);
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
      'MAILGUN_SIGNING_KEY',
      'INTAKE_PARTNER_SECRETS',
      'INTAKE_ADMIN_TOKEN',
    ]);
  });
});
