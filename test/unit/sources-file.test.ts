import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';

/** INTAKE_SOURCES_FILE: parsed once by loadConfig; a bad file names the file, the entry and the field. */
const DELIVERY = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-sources-file-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function withFile(text: string, ext = 'yaml', env: Record<string, string> = {}) {
  const file = path.join(dir, `s-${Math.random().toString(36).slice(2)}.${ext}`);
  fs.writeFileSync(file, text);
  return {
    file,
    load: () => loadConfig({ INTAKE_SOURCES_FILE: file, GH: 'gh-secret', DELIVER: DELIVERY, ...env }),
  };
}

const configError = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

const github = (over = '') => `
sources:
  - name: github
    preset: github
    secrets: [GH]
    deliver: { url: "http://127.0.0.1:9/hooks", secret: DELIVER }
${over}`;

describe('INTAKE_SOURCES_FILE', () => {
  it('adds its sources next to the code sources, on without INTAKE_SOURCES', () => {
    const c = withFile(github()).load();
    expect(c.registry.names()).toEqual(['mailgun', 'partners', 'github']);
    expect(c.registry.find('github')).toMatchObject({
      route: 'github',
      successStatus: 200,
      activity: 'deliverWebhook',
    });
  });

  it('reads JSON as well as YAML', () => {
    const json = JSON.stringify({
      sources: [
        {
          name: 'shop',
          preset: 'shopify',
          secrets: ['GH'],
          deliver: { url: 'https://x.example/h', secret: 'DELIVER' },
        },
      ],
    });
    expect(withFile(json, 'json').load().registry.find('shop')).toBeDefined();
  });

  it('lets INTAKE_RATE_LIMITS name a file source', () => {
    const limited = withFile(github(), 'yaml', { INTAKE_RATE_LIMITS: 'github=5' }).load();
    expect(limited.rateLimits.get('github')).toBe(5);
  });

  it.each([
    [
      'an unknown preset',
      github().replace('preset: github', 'preset: gitlab'),
      /entry 0 \("github"\), field preset: unknown preset "gitlab"/,
    ],
    [
      'a bad template placeholder',
      `
sources:
  - name: acme-erp
    secrets: [GH]
    verify: { hmac: { algorithm: sha256, encoding: hex, header: X-Sig, signedContent: "{timestamp}.{bdy}", timestampHeader: X-Ts } }
    eventId: { header: X-Id }
    eventType: { jsonPointer: /type }
    deliver: { url: "http://127.0.0.1:9/e", secret: DELIVER }`,
      /entry 0 \("acme-erp"\), field verify\.hmac\.signedContent: unknown placeholder \{bdy\}/,
    ],
    [
      'a duplicate name within the file',
      github(`  - name: github
    preset: stripe
    secrets: [GH]
    deliver: { url: "http://127.0.0.1:9/s", secret: DELIVER }`),
      /entry 1 \("github"\), field name: "github" is already a source/,
    ],
    [
      'a name taken by a code source',
      github().replace('name: github', 'name: mailgun'),
      /entry 0 \("mailgun"\), field name: "mailgun" is already a source/,
    ],
    [
      'an unknown algorithm',
      github().replace('preset: github', 'preset: github\n    verify: { hmac: { algorithm: md5 } }'),
      /entry 0 \("github"\), field verify\.hmac\.algorithm/,
    ],
    ['a misspelt field', github().replace('secrets: [GH]', 'secret: [GH]'), /entry 0 \("github"\), field /],
    [
      'a generic entry without eventId',
      `
sources:
  - name: acme
    secrets: [GH]
    verify: { hmac: { algorithm: sha256, encoding: hex, header: X-Sig } }
    eventType: { jsonPointer: /type }
    deliver: { url: "http://127.0.0.1:9/e", secret: DELIVER }`,
      /entry 0 \("acme"\), field eventId: is required/,
    ],
  ])('refuses %s, naming the file, the entry and the field', (_what, text, message) => {
    const f = withFile(text);
    const err = configError(f.load);
    expect(err.variable).toBe('INTAKE_SOURCES_FILE');
    expect(err.message).toContain(f.file);
    expect(err.message).toMatch(message);
  });

  it.each([
    ['secrets', 'GH'],
    ['deliver.secret', 'DELIVER'],
  ])('names the variable of a missing secret (%s)', (field, variable) => {
    const f = withFile(github());
    const err = configError(() =>
      loadConfig({ INTAKE_SOURCES_FILE: f.file, GH: 'x', DELIVER: DELIVERY, [variable]: '' }),
    );
    expect(err.variable).toBe(variable);
    expect(err.message).toContain('entry 0 ("github")');
    expect(err.message).toContain(field);
  });

  it('refuses a delivery secret that is not a Standard Webhooks secret', () => {
    const err = configError(withFile(github(), 'yaml', { DELIVER: 'not base64!' }).load);
    expect(err.variable).toBe('DELIVER');
  });

  it('refuses a file that does not exist or does not parse, naming it', () => {
    expect(
      configError(() => loadConfig({ INTAKE_SOURCES_FILE: path.join(dir, 'none.yaml') })).message,
    ).toMatch(/none\.yaml: cannot be read/);
    expect(configError(withFile('sources: [').load).message).toMatch(/is not valid YAML/);
  });

  it('compiles the JSON Schema next to the file and refuses an invalid one', () => {
    fs.writeFileSync(path.join(dir, 'ok.json'), JSON.stringify({ type: 'object', required: ['zen'] }));
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ type: 'nonsense' }));
    expect(
      withFile(github().replace('secrets: [GH]', 'secrets: [GH]\n    schema: ok.json'))
        .load()
        .registry.find('github'),
    ).toBeDefined();
    expect(
      configError(withFile(github().replace('secrets: [GH]', 'secrets: [GH]\n    schema: bad.json')).load)
        .message,
    ).toMatch(/entry 0 \("github"\), field schema: .*not a valid JSON Schema/);
  });
});
