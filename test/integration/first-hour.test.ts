import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeDevEndpoints } from '../../src/dev/dev-env';
import { loadOrCreateDevSecrets } from '../../src/dev/dev-secrets';
import { buildRegistry } from '../../src/sources/registry';
import { run } from '../support/cli';
import { freePort } from '../support/ports';

const root = path.resolve(__dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const main = path.join(root, 'src', 'cli', 'main.ts');

/**
 * Issue 19, the first hour: a second terminal gets `npm start`'s settings from `intake env`, and a
 * CLI that cannot reach the API says which URL it tried (issue 21: `intake events …` only talks to
 * the API).
 */
describe('the CLI in a second terminal', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-first-hour-'));
    env = { PATH: process.env.PATH, HOME: process.env.HOME, INTAKE_DATA_DIR: dir, LOG_LEVEL: 'warn' };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('`eval "$(npx intake env)"` exports the API URL, Temporal address and generated secrets of `npm start`', async () => {
    const secrets = loadOrCreateDevSecrets(dir, buildRegistry().all);
    writeDevEndpoints(dir, {
      INTAKE_API_URL: 'http://127.0.0.1:4123',
      TEMPORAL_ADDRESS: '127.0.0.1:7345',
      TEMPORAL_NAMESPACE: 'default',
    });
    // dev-secrets.json uses the variable names the README and the banner use.
    const file = JSON.parse(fs.readFileSync(path.join(dir, 'dev-secrets.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(file.INTAKE_ADMIN_TOKEN).toBe(secrets.adminToken);
    expect(Object.keys(file)).toEqual(
      expect.arrayContaining(['MAILGUN_SIGNING_KEY', 'INTAKE_PARTNER_SECRETS']),
    );

    const printed = await run(tsx, [main, 'env'], env);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(/^export INTAKE_API_URL=http:\/\/127\.0\.0\.1:4123 /);

    const shell = await promisify(execFile)('bash', ['-c', `eval "$(${tsx} ${main} env)" && env`], {
      cwd: root,
      env: { ...env, INTAKE_DATA_DIR: dir },
    });
    const exported = Object.fromEntries(
      shell.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(exported).toMatchObject({
      INTAKE_API_URL: 'http://127.0.0.1:4123',
      TEMPORAL_ADDRESS: '127.0.0.1:7345',
      TEMPORAL_NAMESPACE: 'default',
      INTAKE_ADMIN_TOKEN: secrets.adminToken,
      MAILGUN_SIGNING_KEY: file.MAILGUN_SIGNING_KEY,
      INTAKE_PARTNER_SECRETS: file.INTAKE_PARTNER_SECRETS,
    });
  });

  it('`intake env` without a development environment says where it looked and exits 1', async () => {
    const r = await run(tsx, [main, 'env'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no development environment in ${dir}`);
    expect(r.stdout).toBe('');
  });

  it('`intake send` against an API that does not answer names the URL it tried', async () => {
    loadOrCreateDevSecrets(dir, buildRegistry().all);
    const port = await freePort();
    const r = await run(tsx, [main, 'send', 'mailgun', '--example'], {
      ...env,
      INTAKE_API_URL: `http://127.0.0.1:${port}`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach the Intake API at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(r.stderr).not.toMatch(/^intake: fetch failed$/m);
  });

  it('`intake events list --status rejected` (the admin API) names the URL it tried', async () => {
    const port = await freePort();
    const r = await run(tsx, [main, 'events', 'list', '--status', 'rejected'], {
      ...env,
      INTAKE_API_URL: `http://127.0.0.1:${port}`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach the Intake API at http://127.0.0.1:${port}`);
  });

  it('every `intake events` command goes to the API, never to Temporal: an API that does not answer is named', async () => {
    const port = await freePort();
    const temporal = await freePort();
    for (const args of [
      ['events', 'list'],
      ['events', 'issues'],
      ['events', 'show', 'mailgun:x'],
      ['events', 'redrives'],
      ['events', 'replays'],
    ]) {
      const r = await run(tsx, [main, ...args], {
        ...env,
        INTAKE_API_URL: `http://127.0.0.1:${port}`,
        TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
      });
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(`cannot reach the Intake API at http://127.0.0.1:${port} (ECONNREFUSED)`);
      expect(r.stderr).not.toContain('Temporal');
    }
  });
});
