import { failpointNotice, timeToParkMs } from '../../src/cli/failpoint-notice';
import { parseFailpoints } from '../../src/worker/failpoints';

describe('the start banner when a failpoint is on', () => {
  const defaults = { maxAttempts: 10, initialIntervalMs: 1000, maxIntervalMs: 300_000 };

  it('says nothing without INTAKE_FAILPOINTS', () => {
    expect(failpointNotice({ failpoints: [], retry: defaults })).toEqual([]);
  });

  it('names the failpoint and the ~8.5 minutes an event retries at the default budget, with a faster setting', () => {
    expect(timeToParkMs(defaults)).toBe(511_000); // 1+2+4+…+256 s
    const lines = failpointNotice({
      failpoints: parseFailpoints('mailgun.handler=opened'),
      retry: defaults,
    }).join('\n');
    expect(lines).toContain('Failpoints ON   INTAKE_FAILPOINTS=mailgun.handler=opened');
    expect(lines).toContain('~8.5 min before it parks (10 attempts)');
    expect(lines).toContain('INTAKE_RETRY_MAX_ATTEMPTS=3 INTAKE_RETRY_MAX_INTERVAL_MS=2000');
  });

  it('drops the hint when retries are already short', () => {
    const retry = { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 2000 };
    expect(timeToParkMs(retry)).toBe(300);
    const lines = failpointNotice({ failpoints: parseFailpoints('mailgun.handler=clicked'), retry });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('~300 ms before it parks');
  });

  // Issue 19: a `permanent` failpoint parks at once; the banner promised minutes of retries.
  it('says a permanent failpoint parks at once, without retries or the faster-setting hint', () => {
    const lines = failpointNotice({
      failpoints: parseFailpoints('mailgun.permanent=clicked'),
      retry: defaults,
    });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('parks at once (1 attempt, no retries)');
    expect(lines.join('\n')).not.toMatch(/before it parks|INTAKE_RETRY_MAX_ATTEMPTS/);
  });

  it('says what each failpoint does when several are on', () => {
    const lines = failpointNotice({
      failpoints: parseFailpoints('mailgun.handler=opened,mailgun.permanent=clicked,mailgun.once=delivered'),
      retry: defaults,
    });
    expect(lines.slice(1, 4)).toEqual([
      expect.stringContaining('mailgun.handler=opened: an affected event retries ~8.5 min before it parks'),
      expect.stringContaining(
        'mailgun.permanent=clicked: fails permanently: an affected event parks at once',
      ),
      expect.stringContaining('mailgun.once=delivered: fails the first attempt'),
    ]);
    expect(lines[4]).toContain('INTAKE_RETRY_MAX_ATTEMPTS=3');
  });
});
