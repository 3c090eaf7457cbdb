import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { firingFailpoint, parseFailpoints } from '../../src/worker/failpoints';

describe('INTAKE_FAILPOINTS', () => {
  it('is off when unset or empty (a worker started with INTAKE_FAILPOINTS="" has none)', () => {
    expect(parseFailpoints(undefined)).toEqual([]);
    expect(parseFailpoints('')).toEqual([]);
    expect(loadConfig({ INTAKE_FAILPOINTS: '' }).failpoints).toEqual([]);
    expect(loadConfig({ INTAKE_FAILPOINTS: '  ' }).failpoints).toEqual([]);
    // Parsed once, in src/config/index.ts: consumers get typed failpoints, and a bad value stops start-up.
    const [fp] = loadConfig({ INTAKE_FAILPOINTS: 'mailgun.handler=opened' }).failpoints;
    expect(fp).toMatchObject({ entry: 'mailgun.handler=opened', source: 'mailgun', point: 'handler' });
    expect(() => loadConfig({ INTAKE_FAILPOINTS: 'mailgun' })).toThrow(/INTAKE_FAILPOINTS/);
  });

  it('fires for the listed source and event types only', () => {
    const fps = parseFailpoints('mailgun.handler=opened|clicked, partners.permanent=*');
    expect(firingFailpoint(fps, 'mailgun', 'opened')?.point).toBe('handler');
    expect(firingFailpoint(fps, 'mailgun', 'clicked')?.point).toBe('handler');
    expect(firingFailpoint(fps, 'mailgun', 'delivered')).toBeUndefined();
    expect(firingFailpoint(fps, 'partners', 'customer.upserted')?.point).toBe('permanent');
    expect(firingFailpoint(parseFailpoints('mailgun.once=delivered'), 'mailgun', 'delivered')?.point).toBe(
      'once',
    );
  });

  it('fires for a share of attempts with @percent', () => {
    const [fp] = parseFailpoints('mailgun.handler=*@10');
    expect(fp?.probability).toBeCloseTo(0.1);
    expect(firingFailpoint([fp!], 'mailgun', 'opened', () => 0.05)).toBe(fp);
    expect(firingFailpoint([fp!], 'mailgun', 'opened', () => 0.5)).toBeUndefined();
  });

  it('parses a silent handler failpoint (a bug that does not throw)', () => {
    const [fp] = parseFailpoints('mailgun.handler=opened:silent');
    expect(fp).toMatchObject({ source: 'mailgun', point: 'silent', entry: 'mailgun.handler=opened:silent' });
    expect(firingFailpoint([fp!], 'mailgun', 'opened')?.point).toBe('silent');
    expect(firingFailpoint([fp!], 'mailgun', 'delivered')).toBeUndefined();
    expect(parseFailpoints('mailgun.handler=*:silent@50')[0]).toMatchObject({
      point: 'silent',
      probability: 0.5,
    });
    expect(() => parseFailpoints('mailgun.permanent=opened:silent')).toThrow(/INTAKE_FAILPOINTS/);
  });

  it('refuses what it cannot parse, naming the variable', () => {
    for (const bad of ['mailgun', 'mailgun.crash=opened', 'mailgun.handler=opened@150']) {
      expect(() => parseFailpoints(bad)).toThrow(ConfigError);
      expect(() => parseFailpoints(bad)).toThrow(/INTAKE_FAILPOINTS/);
    }
  });
});
