import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { startIntake, type Intake } from '../support/harness';

/** The accept queue of the socket listening on `port`: `ss` shows it as Send-Q of a LISTEN socket. */
function listenBacklog(port: number): number {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  const [line] = out.trim().split('\n');
  const [, , sendQ] = (line ?? '').trim().split(/\s+/);
  return Number(sendQ);
}

/**
 * Issue 13, bursts: 1,000 providers connecting at once overflowed Node's default accept queue (511)
 * while the event loop was busy; the dropped connections were retried by TCP seconds later. The API
 * listens with INTAKE_HTTP_BACKLOG (default 4096; the kernel caps it at net.core.somaxconn).
 */
describe('the API listen backlog (PostgreSQL store)', () => {
  let intake: Intake;
  afterEach(async () => {
    await intake?.stop();
  });
  const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));

  it('listens with a 4096-connection accept queue by default', async () => {
    intake = await startIntake({ store: 'postgres', worker: false });
    expect(listenBacklog(Number(new URL(intake.url).port))).toBe(Math.min(4096, somaxconn));
  });

  it('takes INTAKE_HTTP_BACKLOG', async () => {
    intake = await startIntake({ store: 'postgres', worker: false, env: { INTAKE_HTTP_BACKLOG: '700' } });
    expect(listenBacklog(Number(new URL(intake.url).port))).toBe(Math.min(700, somaxconn));
  });
});
