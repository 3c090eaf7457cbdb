import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../support/cli';
import { startIntake, TEST_ADMIN_TOKEN, waitFor, type Intake } from '../support/harness';
import { createTestNamespace } from '../support/namespace';
import { message, messageId, sendMailgun, waitRevision } from '../support/replay';

// Each step drives real processes (CLI, dev server, workers) on a busy 2-core host.
jest.setTimeout(900_000);

const ROOT = path.resolve(__dirname, '../..');

/** The shell blocks of README.md marked ```sh replay-runbook:<name>, by name. */
function runbookBlocks(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of fs
    .readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    .matchAll(/^```sh replay-runbook:([a-z-]+)\n([\s\S]*?)^```/gm)) {
    out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

/**
 * README "A bug that did not throw", every line of it, against the real dev server and PostgreSQL:
 * the silent failpoint hides `opened` events' effect; after the fix the runbook's find, dry run,
 * canary, replay and verify blocks run verbatim and the messages end right.
 */
describe('README "A bug that did not throw" runbook', () => {
  const blocks = runbookBlocks();
  let intake: Intake;
  let binDir: string;
  let namespace: string;
  const m = messageId();
  let since: string;
  let opened: string[];

  beforeAll(async () => {
    namespace = await createTestNamespace(process.env.INTAKE_TEST_TEMPORAL_ADDRESS!);
    intake = await startIntake({
      store: 'postgres',
      env: { INTAKE_FAILPOINTS: 'mailgun.handler=opened:silent', TEMPORAL_NAMESPACE: namespace },
    });
    // The runbook says `temporal` and `intake`; put both on PATH under those names.
    binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-replay-runbook-'));
    fs.symlinkSync(process.env.INTAKE_TEST_TEMPORAL_CLI!, path.join(binDir, 'temporal'));
    fs.writeFileSync(
      path.join(binDir, 'intake'),
      `#!/bin/sh\ncd '${ROOT}' && exec '${ROOT}/node_modules/.bin/tsx' src/cli/main.ts "$@"\n`,
      { mode: 0o755 },
    );
  }, 300_000);
  afterAll(async () => {
    await intake?.stop();
    if (binDir) fs.rmSync(binDir, { recursive: true, force: true });
  });

  const runbook = async (name: string, env: Record<string, string> = {}) => {
    const cmd = blocks.get(name);
    if (!cmd) throw new Error(`README.md has no block marked replay-runbook:${name}`);
    const res = await run(
      'bash',
      ['-euo', 'pipefail', '-c', cmd],
      {
        PATH: `${binDir}:${process.env.PATH}`,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: intake.config.temporal.address,
        TEMPORAL_NAMESPACE: namespace,
        INTAKE_TASK_QUEUE: intake.config.temporal.taskQueue,
        INTAKE_API_URL: intake.url,
        INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        LOG_LEVEL: 'warn',
        SINCE: since,
        ...env,
      },
      600_000,
    );
    if (res.code !== 0)
      throw new Error(`replay-runbook:${name} exited ${res.code}: ${res.stderr}${res.stdout}`);
    return res.stdout;
  };

  it('has the blocks the runbook promises', () => {
    expect([...blocks.keys()]).toEqual(['find', 'dry-run', 'canary', 'verify', 'again']);
  });

  it('runs find, dry run, canary, replay and verify as written; each message ends with its opens', async () => {
    since = new Date(Date.now() - 1000).toISOString();
    const sent = await sendMailgun(intake, [
      [m, 'delivered', 1],
      [m, 'opened', 6],
    ]);
    opened = sent.filter((s) => s.event === 'opened').map((s) => s.id);
    await waitRevision(
      intake,
      sent.map((s) => s.id),
      1,
    );
    expect((await message(intake, m)).openedCount).toBe(0);

    const found = await waitFor(
      async () => {
        const out = await runbook('find');
        return opened.every((id) => out.includes(id)) ? out : undefined;
      },
      60_000,
      'find lists the opened events',
    );
    expect(found).toMatch(/Total: 6\b/);

    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });
    expect(await runbook('dry-run')).toContain('dry run: matched 6 archived event(s) of mailgun (opened)');
    expect(await runbook('canary')).toContain(
      'replay completed: 6 replayed, 0 parked, 0 not started of 6 matched',
    );
    await waitRevision(intake, opened, 2);
    const verify = await runbook('verify', { EVENT_ID: opened[5]!, MESSAGE_ID: m });
    expect(verify).toContain('opens were not counted: fix deployed');
    expect(verify).toMatch(/"revision": 2/);
    expect(verify).toMatch(/"replayedAt": "20/);
    expect(verify).toContain('"openedCount":6');

    const fixed = await message(intake, m);
    expect(await runbook('again')).toContain(
      'replay completed: 6 replayed, 0 parked, 0 not started of 6 matched',
    );
    await waitRevision(intake, opened, 3);
    expect(await message(intake, m)).toEqual(fixed);
  });
});
