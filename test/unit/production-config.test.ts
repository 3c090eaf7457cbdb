import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { activityTaskQueueFor, assertServeable, loadConfig, parseRateLimits } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { workflowSource } from '../../src/worker/worker';

describe('INTAKE_RATE_LIMITS', () => {
  it('parses per-source rates and routes limited sources to their own activity queue', () => {
    const config = loadConfig({ INTAKE_TASK_QUEUE: 'q', INTAKE_RATE_LIMITS: 'mailgun=50, partners=0.5' });
    expect([...config.rateLimits]).toEqual([
      ['mailgun', 50],
      ['partners', 0.5],
    ]);
    expect(activityTaskQueueFor(config, 'mailgun')).toBe('q-mailgun');
    expect(activityTaskQueueFor(loadConfig({ INTAKE_TASK_QUEUE: 'q' }), 'mailgun')).toBeUndefined();
  });

  it.each(['mailgun', 'mailgun=0', 'mailgun=-1', 'mailgun=abc', 'stripe=5', 'mailgun=1,mailgun=2'])(
    'refuses %p naming the variable',
    (raw) => {
      expect(() => parseRateLimits(raw)).toThrow(ConfigError);
      expect(() => parseRateLimits(raw)).toThrow(/^INTAKE_RATE_LIMITS: /);
    },
  );
});

describe('start-up checks of the production processes', () => {
  const production = { NODE_ENV: 'production', MAILGUN_SIGNING_KEY: 'key' };

  it('the API requires the admin token in production; the worker does not', () => {
    const config = loadConfig(production);
    expect(() => assertServeable(config)).toThrow(/INTAKE_ADMIN_TOKEN/);
    expect(() => assertServeable(config, { requireAdminToken: false })).not.toThrow();
  });

  it('the worker still refuses an enabled source without its secret', () => {
    const config = loadConfig({ NODE_ENV: 'production', INTAKE_SOURCES: 'partners' });
    expect(() => assertServeable(config, { requireAdminToken: false })).toThrow(/INTAKE_PARTNER_SECRETS/);
  });

  it('refuses admin and read tokens shorter than 32 characters in production, naming the variable', () => {
    const long = 'a'.repeat(32);
    const check = (env: Record<string, string>) => () =>
      assertServeable(loadConfig({ ...production, ...env }));
    expect(check({ INTAKE_ADMIN_TOKEN: 'short' })).toThrow(
      /^INTAKE_ADMIN_TOKEN: must be at least 32 characters/,
    );
    expect(check({ INTAKE_ADMIN_TOKEN: 'a'.repeat(31) })).toThrow(ConfigError);
    expect(check({ INTAKE_ADMIN_TOKEN: long, INTAKE_READ_TOKEN: 'short' })).toThrow(
      /^INTAKE_READ_TOKEN: must be at least 32 characters/,
    );
    expect(check({ INTAKE_ADMIN_TOKEN: long, INTAKE_READ_TOKEN: long })).not.toThrow();
    expect(check({ INTAKE_ADMIN_TOKEN: long })).not.toThrow();
    // The worker does not need the admin token, but a short one in its environment is still refused.
    expect(() =>
      assertServeable(loadConfig({ ...production, INTAKE_READ_TOKEN: 'short' }), {
        requireAdminToken: false,
      }),
    ).toThrow(/INTAKE_READ_TOKEN/);
    // Outside production short tokens are fine (tests, development).
    expect(() =>
      assertServeable(
        loadConfig({ MAILGUN_SIGNING_KEY: 'key', INTAKE_ADMIN_TOKEN: 'short', INTAKE_READ_TOKEN: 'x' }),
      ),
    ).not.toThrow();
  });

  it('parses INTAKE_READ_TOKEN; `intake dev` binds 127.0.0.1 unless HOST is set, the API 0.0.0.0', () => {
    expect(loadConfig({ INTAKE_READ_TOKEN: 'r' }).readToken).toBe('r');
    expect(loadConfig({}).readToken).toBeUndefined();
    const defaults = loadConfig({});
    expect([defaults.host, defaults.devHost]).toEqual(['0.0.0.0', '127.0.0.1']);
    const given = loadConfig({ HOST: '0.0.0.0' });
    expect([given.host, given.devHost]).toEqual(['0.0.0.0', '0.0.0.0']);
  });

  it('parses the offload threshold and the shutdown grace with defaults', () => {
    const defaults = loadConfig({});
    expect(defaults.offloadThresholdBytes).toBe(128 * 1024);
    expect(defaults.shutdownGraceS).toBe(25);
    expect(() => loadConfig({ INTAKE_OFFLOAD_THRESHOLD_BYTES: '10' })).toThrow(
      /INTAKE_OFFLOAD_THRESHOLD_BYTES/,
    );
  });
});

describe('workflow code source', () => {
  it('bundles workflows/ at start when running from source, even if a built bundle exists', () => {
    expect(workflowSource({}, path.join('/app', 'src', 'worker'))).toHaveProperty('workflowsPath');
  });

  it('picks the prebuilt bundle with the tracing interceptors when tracing is on', () => {
    const dist = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bundles-')), 'dist');
    fs.mkdirSync(path.join(dist, 'src', 'worker'), { recursive: true });
    for (const name of ['workflow-bundle.js', 'workflow-bundle-traced.js'])
      fs.writeFileSync(path.join(dist, name), '');
    try {
      const compiledDir = path.join(dist, 'src', 'worker');
      expect(workflowSource(loadConfig({}), compiledDir)).toEqual({
        workflowBundle: { codePath: path.join(dist, 'workflow-bundle.js') },
      });
      const traced = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });
      expect(workflowSource(traced, compiledDir)).toEqual({
        workflowBundle: { codePath: path.join(dist, 'workflow-bundle-traced.js') },
      });
    } finally {
      fs.rmSync(path.dirname(dist), { recursive: true, force: true });
    }
  });

  it('uses INTAKE_WORKFLOW_BUNDLE when set', () => {
    const config = loadConfig({ INTAKE_WORKFLOW_BUNDLE: '/opt/intake/bundle.js' });
    expect(workflowSource(config)).toEqual({ workflowBundle: { codePath: '/opt/intake/bundle.js' } });
  });
});
