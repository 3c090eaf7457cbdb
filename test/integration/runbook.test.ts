import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mailgunExample } from '../../src/sources/mailgun';
import { findTctl } from '../../src/dev/tctl-binary';
import { cliEnv, run } from '../support/cli';
import { post, startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';
import { createTestNamespace } from '../support/namespace';

const RUNBOOK = path.resolve(__dirname, '../../README.md');

/** The shell blocks of README.md marked ```sh runbook-test:<name>, by name. */
function runbookCommands(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of fs
    .readFileSync(RUNBOOK, 'utf8')
    .matchAll(/^```sh runbook-test:([a-z-]+)\n([\s\S]*?)^```/gm)) {
    out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

/** The runbook's temporal CLI and tctl commands, verbatim, against the run's dev server. */
describe('README.md commands against the real dev server', () => {
  const commands = runbookCommands();
  let intake: Intake;
  let binDir: string;
  let namespace: string;
  let tctl: string;

  beforeAll(async () => {
    // tctl as operators get it (TCTL_PATH, PATH, cache, else built once: minutes, cold).
    tctl = await findTctl({ explicitPath: process.env.TCTL_PATH, env: process.env });
    const address = process.env.INTAKE_TEST_TEMPORAL_ADDRESS!;
    // Own namespace: the runbook's batch signal matches every parked mailgun event in it.
    namespace = await createTestNamespace(address);
    intake = await startIntake({
      store: 'postgres',
      env: { INTAKE_FAILPOINTS: 'mailgun.handler=opened', TEMPORAL_NAMESPACE: namespace },
    });
    // The runbook says `temporal`; put the run's binary on PATH under that name.
    binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-runbook-'));
    fs.symlinkSync(process.env.INTAKE_TEST_TEMPORAL_CLI!, path.join(binDir, 'temporal'));
    fs.symlinkSync(tctl, path.join(binDir, 'tctl'));
  }, 1_200_000);
  afterAll(async () => {
    await intake?.stop();
    if (binDir) fs.rmSync(binDir, { recursive: true, force: true });
  });

  /** Runs one marked runbook block in bash, with the environment the runbook tells operators to set. */
  const runbook = async (name: string, eventId = '') => {
    const cmd = commands.get(name);
    if (!cmd) throw new Error(`README.md has no block marked runbook-test:${name}`);
    const res = await run('bash', ['-euo', 'pipefail', '-c', cmd], {
      PATH: `${binDir}:${process.env.PATH}`,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: intake.config.temporal.address,
      TEMPORAL_NAMESPACE: namespace,
      EVENT_ID: eventId,
    });
    if (res.code !== 0) throw new Error(`runbook-test:${name} exited ${res.code}: ${res.stderr}`);
    return res.stdout;
  };
  const status = async (id: string) => (await intake.events.get(id)).status;

  const parked: string[] = [];
  let processed = '';

  it('marks the commands the runbook promises', () => {
    expect([...commands.keys()].sort()).toEqual([
      'count-parked',
      'describe',
      'discard-one',
      'list-parked',
      'list-parked-source',
      'query-status',
      'signal-all',
      'signal-one',
      'tctl-count-parked',
      'tctl-list-parked',
      'tctl-query-status',
      'tctl-signal-all',
      'tctl-signal-one',
    ]);
    expect(commands.get('signal-all')).toBe(
      `temporal workflow signal --query 'IntakeStatus="parked" AND IntakeSource="mailgun"' --name retry --reason 'fix deployed' --yes`,
    );
  });

  it('finds the parked events with `temporal workflow list --query` and counts them', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'opened' }));
      expect(res.status).toBe(200);
      parked.push(res.json.id as string);
    }
    const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered' }));
    processed = res.json.id as string;
    for (const id of parked)
      await waitFor(async () => (await status(id)) === 'parked', 60_000, `${id} parked`);
    await waitFor(async () => (await status(processed)) === 'processed', 60_000, 'processed');

    for (const name of ['list-parked', 'list-parked-source', 'tctl-list-parked']) {
      const out = await waitFor(
        async () => {
          const o = await runbook(name);
          return parked.every((id) => o.includes(id)) ? o : undefined;
        },
        30_000,
        `${name} shows the parked ids`,
      );
      expect(out).not.toContain(processed);
      if (!name.startsWith('tctl')) expect(out).toMatch(/Running/);
    }
    expect(await runbook('count-parked')).toMatch(/Total: 5\b/);
    expect((await runbook('tctl-count-parked')).trim()).toBe('5');

    // Without either tool on PATH: `intake temporal …` and `intake tctl …` pass through to them.
    const intakeTool = (args: string[]) =>
      run(path.resolve(__dirname, '../../node_modules/.bin/tsx'), ['src/cli/main.ts', ...args], {
        ...cliEnv(intake.config),
        TEMPORAL_CLI_PATH: process.env.INTAKE_TEST_TEMPORAL_CLI,
        TCTL_PATH: tctl,
      });
    const viaIntake = await intakeTool(['temporal', 'workflow', 'count', '--query', 'IntakeStatus="parked"']);
    expect(viaIntake).toMatchObject({ code: 0, stdout: expect.stringMatching(/Total: 5\b/) });
    const tctlViaIntake = await intakeTool(['tctl', 'workflow', 'count', '--query', 'IntakeStatus="parked"']);
    expect(tctlViaIntake).toMatchObject({ code: 0, stdout: '5\n' });
    expect((await intakeTool(['temporal', '--path'])).stdout.trim()).toBe(
      process.env.INTAKE_TEST_TEMPORAL_CLI,
    );
  });

  it('inspects one with `temporal workflow query --name status` and `describe`', async () => {
    const out = await runbook('query-status', parked[0]);
    // Text output: "Query result:" then the JSON answer.
    expect(out).toMatch(/Query result/);
    const state = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as Record<
      string,
      unknown
    >;
    expect(state).toMatchObject({ id: parked[0], status: 'parked', attempts: 3, processedAt: null });
    expect(state.lastError).toMatch(/failpoint mailgun\.handler/);
    const tctlOut = await runbook('tctl-query-status', parked[0]);
    expect(JSON.parse(tctlOut.slice(tctlOut.indexOf('{'), tctlOut.lastIndexOf('}') + 1))).toMatchObject({
      id: parked[0],
      status: 'parked',
      attempts: 3,
    });
    const desc = await runbook('describe', parked[0]);
    expect(desc).toContain(parked[0]);
    expect(desc).toMatch(/IntakeStatus:[^\]]*\\"parked\\"/);
  });

  it('discards one with `temporal workflow signal --name discard`', async () => {
    await runbook('discard-one', parked[0]);
    await waitFor(async () => (await status(parked[0]!)) === 'discarded', 30_000, 'discarded');
    expect(await intake.events.get(parked[0]!)).toMatchObject({
      discardReason: 'test traffic from the staging account',
    });
  });

  it('before the fix, `tctl workflow signal --query` resumes every parked event (they park again)', async () => {
    await runbook('tctl-signal-all');
    for (const id of parked.slice(1)) {
      await waitFor(
        async () => {
          const v = await intake.events.get(id);
          return v.status === 'parked' && v.attempts === 6;
        },
        60_000,
        `${id} retried and parked again`,
      );
    }
    expect(await status(parked[0]!)).toBe('discarded');
  });

  it('after the fix, resumes one by id and the rest with the batch signal over the query', async () => {
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });

    await runbook('signal-one', parked[1]);
    await runbook('tctl-signal-one', parked[2]);
    for (const id of parked.slice(1, 3))
      await waitFor(async () => (await status(id)) === 'processed', 30_000, `${id} processed`);
    // The batch reads visibility: wait until it no longer lists the ones already resumed.
    await waitFor(
      async () => {
        const list = await runbook('list-parked');
        return !list.includes(parked[1]!) && !list.includes(parked[2]!);
      },
      30_000,
      'list updated',
    );

    await runbook('signal-all');
    for (const id of parked.slice(3)) {
      await waitFor(async () => (await status(id)) === 'processed', 60_000, `${id} processed`);
    }
    expect(await status(parked[0]!)).toBe('discarded');
    const rows = await intake.store.query('SELECT id FROM processed_events ORDER BY id');
    expect(rows.rows.map((r) => String(r.id))).toEqual([processed, ...parked.slice(1)].sort());
    await waitFor(async () => /Total: 0\b/.test(await runbook('count-parked')), 30_000, 'none parked');
  });
});
