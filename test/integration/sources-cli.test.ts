import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../support/cli';
import { freePort } from '../support/ports';

/** `intake sources list|check`: the sources a configuration serves, and a CI-friendly file check. */
const DELIVERY = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-sources-cli-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sourcesFile(text: string): string {
  const file = path.join(dir, `s-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

const intake = (args: string[], env: Record<string, string>) =>
  run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'warn',
    ...env,
  });

const good = `
sources:
  - name: github
    preset: github
    secrets: [GH_SECRET]
    deliver: { url: "http://127.0.0.1:9/hooks/github", secret: DELIVER_SECRET }
`;

describe('intake sources', () => {
  it('check passes a good file and list shows every source with its route and delivery', async () => {
    const env = { INTAKE_SOURCES_FILE: sourcesFile(good), GH_SECRET: 'gh', DELIVER_SECRET: DELIVERY };
    const check = await intake(['sources', 'check'], env);
    expect(check).toMatchObject({ code: 0 });
    expect(check.stdout).toMatch(/^ok: .*\.yaml: 1 file source\(s\), 3 in all$/m);
    const list = await intake(['sources', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /^github\tPOST \/webhooks\/github\t200\tfile, delivers to http:\/\/127\.0\.0\.1:9\/hooks\/github\ton$/m,
    );
    expect(list.stdout).toMatch(/^mailgun\tPOST \/webhooks\/mailgun\t200\tcode\toff \(no secret\)$/m);
  });

  it('check exits 1 naming the entry and field of a bad file, and the variable of a missing secret', async () => {
    const bad = sourcesFile(good.replace('preset: github', 'preset: gitlab'));
    const unknown = await intake(['sources', 'check'], {
      INTAKE_SOURCES_FILE: bad,
      GH_SECRET: 'gh',
      DELIVER_SECRET: DELIVERY,
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(bad);
    expect(unknown.stderr).toMatch(/github/);
    expect(unknown.stderr).toMatch(/preset/);
    const missing = await intake(['sources', 'check'], {
      INTAKE_SOURCES_FILE: sourcesFile(good),
      DELIVER_SECRET: DELIVERY,
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/GH_SECRET/);
  });
});

/**
 * Must-show 6 against `intake dev` itself (what `npm start` runs): a bad sources file stops it before
 * anything starts, exit 1, with a message naming the file, the entry and the field (the variable,
 * for a missing secret).
 */
describe('intake dev with a bad sources file', () => {
  const acme = (signedContent: string) => `
  - name: acme
    secrets: [ACME_SECRET]
    verify:
      hmac: { algorithm: sha256, encoding: hex, header: X-Acme-Signature, signedContent: "${signedContent}" }
    eventId: { header: X-Acme-Id }
    eventType: { header: X-Acme-Type }
    deliver: { url: "http://127.0.0.1:9/acme", secret: DELIVER_SECRET }
`;
  const cases: [string, string, Record<string, string>, RegExp[]][] = [
    [
      'an unknown preset',
      good.replace('preset: github', 'preset: gitlab'),
      {},
      [/"github"/, /\bpreset\b/, /unknown preset "gitlab"/],
    ],
    ['a missing secret variable', good, { GH_SECRET: '' }, [/GH_SECRET/, /"github"/, /secrets\[0\]/]],
    [
      'a bad template placeholder',
      good + acme('{timestamp}.{bdoy}'),
      {},
      [/"acme"/, /verify\.hmac\.signedContent/, /\{bdoy\}/],
    ],
    [
      'a duplicate name',
      good + good.replace('sources:\n', ''),
      {},
      [/"github"/, /\bname\b/, /already a source/],
    ],
  ];
  it.each(cases)(
    '%s stops it with exit 1, naming the file, the entry and the field',
    async (_what, text, over, want) => {
      const file = sourcesFile(text);
      const data = fs.mkdtempSync(path.join(dir, 'data-'));
      const env: Record<string, string> = {
        INTAKE_SOURCES_FILE: file,
        GH_SECRET: 'gh',
        ACME_SECRET: 'acme',
        DELIVER_SECRET: DELIVERY,
        INTAKE_DATA_DIR: data,
        PORT: String(await freePort()),
        TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
        ...over,
      };
      for (const [k, v] of Object.entries(env)) if (v === '') delete env[k];
      const res = await intake(['dev'], env);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`intake: configuration error: `);
      expect(res.stderr).toContain(file);
      for (const re of want) expect(res.stderr).toMatch(re);
      // Stopped before anything started.
      expect(res.stdout).not.toMatch(/Temporal dev server/);
    },
  );
});
