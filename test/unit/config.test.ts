import path from 'node:path';
import { activeSources, assertServeable, loadConfig } from '../../src/config';
import { parsePartnerSecrets } from '../../src/sources/partners';
import { ConfigError } from '../../src/errors';
import { devServerArgs, webUiPort } from '../../src/dev/dev-server';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROTATED = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';

/** The ConfigError `fn` throws (failing the test if it does not throw one). */
const configError = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('has the documented defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      production: false,
      temporal: {
        address: '127.0.0.1:7233',
        namespace: 'default',
        taskQueue: 'intake',
        startTimeoutMs: 5000,
      },
      databaseUrl: undefined,
      dataDir: path.resolve('./data'),
      adminToken: undefined,
      apiUrl: 'http://127.0.0.1:3000',
      sources: { mailgun: { signingKey: undefined }, partners: { secrets: new Map() } },
      signatureToleranceS: 300,
      maxBodyBytes: 1024 * 1024,
      retry: { maxAttempts: 10, initialIntervalMs: 1000, maxIntervalMs: 300_000 },
      activityTimeoutMs: 60_000,
      activityHeartbeatTimeoutMs: 10_000,
      workerMetricsPort: 9464,
      logLevel: 'info',
    });
    expect(c.enabledSources).toBeUndefined();
  });

  it('takes an empty variable (`PORT=` in a compose or env file) as unset: the documented default', () => {
    const blank = Object.fromEntries(
      [
        'PORT',
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'INTAKE_TASK_QUEUE',
        'INTAKE_DATA_DIR',
        'INTAKE_MAX_BODY_BYTES',
        'INTAKE_RETRY_MAX_ATTEMPTS',
        'INTAKE_SIGNATURE_TOLERANCE_S',
      ].map((k) => [k, '']),
    );
    expect(loadConfig(blank)).toMatchObject({
      port: 3000,
      temporal: { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'intake' },
      dataDir: path.resolve('./data'),
      maxBodyBytes: 1024 * 1024,
      signatureToleranceS: 300,
      retry: { maxAttempts: 10 },
    });
    expect(loadConfig({ PORT: '  ' }).port).toBe(3000);
    // A value that is there is still checked.
    expect(configError(() => loadConfig({ PORT: 'abc' })).message).toMatch(/PORT must be a number/);
  });

  it('keeps the heartbeat timeout within the activity timeout, and at least 1 s', () => {
    expect(loadConfig({ INTAKE_ACTIVITY_HEARTBEAT_TIMEOUT_MS: '2000' }).activityHeartbeatTimeoutMs).toBe(
      2000,
    );
    expect(loadConfig({ INTAKE_ACTIVITY_TIMEOUT_MS: '5000' }).activityHeartbeatTimeoutMs).toBe(5000);
    expect(configError(() => loadConfig({ INTAKE_ACTIVITY_HEARTBEAT_TIMEOUT_MS: '500' })).message).toMatch(
      /INTAKE_ACTIVITY_HEARTBEAT_TIMEOUT_MS must be at least 1000/,
    );
  });

  it('coerces numbers and treats blank optional values as unset', () => {
    const c = loadConfig({
      PORT: '8080',
      INTAKE_MAX_BODY_BYTES: ' 2048 ',
      INTAKE_SIGNATURE_TOLERANCE_S: '60',
      INTAKE_RETRY_MAX_ATTEMPTS: '3',
      INTAKE_WORKER_METRICS_PORT: '0',
      DATABASE_URL: '   ',
      INTAKE_ADMIN_TOKEN: '',
      NODE_ENV: 'production',
    });
    expect(c.port).toBe(8080);
    expect(c.maxBodyBytes).toBe(2048);
    expect(c.signatureToleranceS).toBe(60);
    expect(c.retry.maxAttempts).toBe(3);
    expect(c.workerMetricsPort).toBe(0);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.adminToken).toBeUndefined();
    expect(c.production).toBe(true);
    expect(c.apiUrl).toBe('http://127.0.0.1:8080');
  });

  it('bounds the start spool at 100000 events by default; 0 turns it off; a negative depth is refused', () => {
    expect(loadConfig({}).spoolMaxDepth).toBe(100_000);
    expect(loadConfig({ INTAKE_SPOOL_MAX_DEPTH: '0' }).spoolMaxDepth).toBe(0);
    expect(configError(() => loadConfig({ INTAKE_SPOOL_MAX_DEPTH: '-1' })).variable).toBe(
      'INTAKE_SPOOL_MAX_DEPTH',
    );
  });

  it('starts eagerly in intake dev unless INTAKE_EAGER_START=false; anything but a boolean is refused', () => {
    expect(loadConfig({}).eagerStart).toBe(true);
    expect(loadConfig({ INTAKE_EAGER_START: 'false' }).eagerStart).toBe(false);
    expect(loadConfig({ INTAKE_EAGER_START: '0' }).eagerStart).toBe(false);
    const err = configError(() => loadConfig({ INTAKE_EAGER_START: 'sometimes' }));
    expect(err.variable).toBe('INTAKE_EAGER_START');
    expect(err.message).toMatch(/INTAKE_EAGER_START must be true or false/);
  });

  it('never lets the retry interval cap fall below the initial interval', () => {
    const c = loadConfig({ INTAKE_RETRY_INITIAL_INTERVAL_MS: '5000', INTAKE_RETRY_MAX_INTERVAL_MS: '100' });
    expect(c.retry).toMatchObject({ initialIntervalMs: 5000, maxIntervalMs: 5000 });
  });

  it('passes TEMPORAL_* variables on to envconfig, with the parsed address and namespace', () => {
    const c = loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_API_KEY: 'k', OTHER: 'x' });
    expect(c.temporal.env).toEqual({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_API_KEY: 'k',
    });
  });

  it.each([
    ['PORT', 'abc', 'PORT: PORT must be a number'],
    ['PORT', '-1', 'PORT: PORT must be at least 0'],
    ['INTAKE_MAX_BODY_BYTES', '1.5', 'INTAKE_MAX_BODY_BYTES: INTAKE_MAX_BODY_BYTES must be a whole number'],
    ['INTAKE_MAX_BODY_BYTES', '0', 'INTAKE_MAX_BODY_BYTES: INTAKE_MAX_BODY_BYTES must be at least 1'],
    [
      'INTAKE_RETRY_MAX_ATTEMPTS',
      'ten',
      'INTAKE_RETRY_MAX_ATTEMPTS: INTAKE_RETRY_MAX_ATTEMPTS must be a number',
    ],
    [
      'INTAKE_WORKER_METRICS_PORT',
      '70000',
      'INTAKE_WORKER_METRICS_PORT: INTAKE_WORKER_METRICS_PORT must be at most 65535',
    ],
  ])('refuses %s=%j with a message naming the variable', (variable, value, message) => {
    const err = configError(() => loadConfig({ [variable]: value }));
    expect(err.variable).toBe(variable);
    expect(err.message).toBe(message);
  });

  it('names the variable for enum and list values too', () => {
    expect(configError(() => loadConfig({ LOG_LEVEL: 'loud' })).variable).toBe('LOG_LEVEL');
    const sources = configError(() => loadConfig({ INTAKE_SOURCES: 'mailgun,sendgrid' }));
    expect(sources.variable).toBe('INTAKE_SOURCES');
    expect(sources.message).toContain('unknown source "sendgrid"');
    expect(configError(() => loadConfig({ INTAKE_PARTNER_SECRETS: 'acme' })).variable).toBe(
      'INTAKE_PARTNER_SECRETS',
    );
  });

  it('has sane HTTP timeouts (keep-alive above the usual 60 s load balancer idle) and checks their order', () => {
    expect(loadConfig({}).http).toEqual({
      keepAliveTimeoutMs: 65_000,
      headersTimeoutMs: 10_000,
      bodyTimeoutMs: 5_000,
      requestTimeoutMs: 30_000,
    });
    expect(loadConfig({ INTAKE_HTTP_BODY_TIMEOUT_MS: '2000' }).http.bodyTimeoutMs).toBe(2000);
    const err = configError(() =>
      loadConfig({ INTAKE_HTTP_HEADERS_TIMEOUT_MS: '20000', INTAKE_HTTP_REQUEST_TIMEOUT_MS: '10000' }),
    );
    expect(err.variable).toBe('INTAKE_HTTP_HEADERS_TIMEOUT_MS');
    expect(configError(() => loadConfig({ INTAKE_HTTP_KEEPALIVE_TIMEOUT_MS: '10' })).variable).toBe(
      'INTAKE_HTTP_KEEPALIVE_TIMEOUT_MS',
    );
  });
});

describe('parsePartnerSecrets', () => {
  it('reads partner=secret pairs, trimming blanks and empty entries', () => {
    expect(parsePartnerSecrets(` acme=${SECRET} ,, globex = ${ROTATED} ,`)).toEqual(
      new Map([
        ['acme', [SECRET]],
        ['globex', [ROTATED]],
      ]),
    );
  });

  it('keeps every secret of a partner listed twice (rotation), in order', () => {
    expect(parsePartnerSecrets(`acme=${SECRET},acme=${ROTATED}`).get('acme')).toEqual([SECRET, ROTATED]);
  });

  it('keeps "=" inside a secret (base64 padding)', () => {
    const padded = `whsec_${Buffer.from('0123456789abcdef').toString('base64')}`;
    expect(padded.endsWith('==')).toBe(true);
    expect(parsePartnerSecrets(`acme=${padded}`).get('acme')).toEqual([padded]);
  });

  it('is empty when unset', () => {
    expect(parsePartnerSecrets(undefined).size).toBe(0);
    expect(parsePartnerSecrets('').size).toBe(0);
  });

  it.each([
    ['a missing "="', `acme${SECRET}`, 'expected partner=whsec_… pairs separated by commas'],
    ['a missing partner', `=${SECRET}`, 'expected partner=whsec_… pairs separated by commas'],
    ['a missing secret', 'acme=', 'expected partner=whsec_… pairs separated by commas'],
    ['a partner name with a slash', `ac/me=${SECRET}`, 'partner name "ac/me" must be [A-Za-z0-9_-]'],
    [
      'a secret without whsec_',
      'acme=MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'the secret for "acme" must start with whsec_',
    ],
    [
      'a secret shorter than 16 bytes',
      'acme=whsec_c2hvcnQ=',
      'the secret for "acme" must be whsec_ + base64 of at least 16 bytes',
    ],
  ])('refuses %s, naming INTAKE_PARTNER_SECRETS and never echoing a secret', (_what, raw, reason) => {
    const err = configError(() => parsePartnerSecrets(raw));
    expect(err.variable).toBe('INTAKE_PARTNER_SECRETS');
    expect(err.message).toBe(`INTAKE_PARTNER_SECRETS: ${reason}`);
    expect(err.message).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  });
});

describe('activeSources and assertServeable', () => {
  const base = { MAILGUN_SIGNING_KEY: 'key-1', INTAKE_PARTNER_SECRETS: `acme=${SECRET}` };

  it('turns on the sources whose secrets are set, or exactly those in INTAKE_SOURCES', () => {
    expect(activeSources(loadConfig(base))).toEqual(['mailgun', 'partners']);
    expect(activeSources(loadConfig({ MAILGUN_SIGNING_KEY: 'k' }))).toEqual(['mailgun']);
    expect(activeSources(loadConfig({ ...base, INTAKE_SOURCES: 'partners' }))).toEqual(['partners']);
  });

  it('passes a development config without an admin token', () => {
    expect(() => assertServeable(loadConfig(base))).not.toThrow();
  });

  it('refuses production without INTAKE_ADMIN_TOKEN, and passes with it', () => {
    const err = configError(() => assertServeable(loadConfig({ ...base, NODE_ENV: 'production' })));
    expect(err.variable).toBe('INTAKE_ADMIN_TOKEN');
    expect(err.message).toBe('INTAKE_ADMIN_TOKEN: is required in production (NODE_ENV=production)');
    // A blank token is no token.
    expect(
      configError(() =>
        assertServeable(loadConfig({ ...base, NODE_ENV: 'production', INTAKE_ADMIN_TOKEN: ' ' })),
      ).variable,
    ).toBe('INTAKE_ADMIN_TOKEN');
    expect(() =>
      assertServeable(loadConfig({ ...base, NODE_ENV: 'production', INTAKE_ADMIN_TOKEN: 't0ken'.repeat(8) })),
    ).not.toThrow();
  });

  it('refuses a source enabled without its secret, naming the secret', () => {
    expect(
      configError(() =>
        assertServeable(
          loadConfig({ INTAKE_SOURCES: 'mailgun', INTAKE_PARTNER_SECRETS: base.INTAKE_PARTNER_SECRETS }),
        ),
      ).variable,
    ).toBe('MAILGUN_SIGNING_KEY');
    expect(
      configError(() => assertServeable(loadConfig({ INTAKE_SOURCES: 'partners', MAILGUN_SIGNING_KEY: 'k' })))
        .variable,
    ).toBe('INTAKE_PARTNER_SECRETS');
  });

  it('refuses a config with no source at all', () => {
    const err = configError(() => assertServeable(loadConfig({})));
    expect(err.message).toContain('no source is configured');
  });

  it('lets a worker start without source secrets (it verifies no signature), but not with a listed source unset', () => {
    const worker = { requireAdminToken: false, requireSource: false };
    expect(() => assertServeable(loadConfig({ NODE_ENV: 'production' }), worker)).not.toThrow();
    expect(
      configError(() => assertServeable(loadConfig({ INTAKE_SOURCES: 'mailgun' }), worker)).variable,
    ).toBe('MAILGUN_SIGNING_KEY');
  });
});

describe('TEMPORAL_ADDRESS', () => {
  it.each([
    ['127.0.0.1:7233', 7233],
    ['temporal.internal:65535', 65535],
    ['[::1]:7233', 7233],
  ])('accepts %s', (address, port) => {
    expect(loadConfig({ TEMPORAL_ADDRESS: address }).temporal.address).toBe(address);
    expect(Number(address.split(':').pop())).toBe(port);
  });

  it.each([
    ['127.0.0.1', /must be host:port/],
    [':7233', /must be host:port/],
    ['127.0.0.1:x', /numeric port/],
    ['127.0.0.1:', /numeric port/],
    ['127.0.0.1:0', /outside 1-65535/],
    ['127.0.0.1:70000', /outside 1-65535/],
  ])('refuses %s with a ConfigError naming it', (address, reason) => {
    const err = configError(() => loadConfig({ TEMPORAL_ADDRESS: address }));
    expect(err.variable).toBe('TEMPORAL_ADDRESS');
    expect(err.message).toMatch(reason);
  });

  it('refuses, for the dev server, a port whose Web UI port (port + 1000) is past 65535', () => {
    expect(webUiPort('127.0.0.1:64535')).toBe(65535);
    const err = configError(() => webUiPort('127.0.0.1:64536'));
    expect(err.variable).toBe('TEMPORAL_ADDRESS');
    expect(err.message).toMatch(/dev Web UI.*65536 > 65535.*up to 64535/);
    expect(
      configError(() => devServerArgs({ binary: 't', address: '127.0.0.1:65000', dataDir: '/tmp', env: {} }))
        .variable,
    ).toBe('TEMPORAL_ADDRESS');
    expect(
      devServerArgs({ binary: 't', address: '127.0.0.1:65000', dataDir: '/tmp', env: {}, headless: true }),
    ).toContain('65000');
  });

  it('passes dynamic config values to the dev server as JSON, and none by default', () => {
    const base = { binary: 't', address: '127.0.0.1:7233', dataDir: '/tmp', env: {} };
    expect(devServerArgs(base)).not.toContain('--dynamic-config-value');
    const args = devServerArgs({
      ...base,
      dynamicConfig: { 'history.transferProcessorUpdateAckInterval': '1s', 'limit.x': 3 },
    });
    const values = args.flatMap((a, i) => (args[i - 1] === '--dynamic-config-value' ? [a] : []));
    expect(values).toEqual(['history.transferProcessorUpdateAckInterval="1s"', 'limit.x=3']);
  });
});
