import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type CliResult } from '../support/cli';
import { adminGet, startIntake, TEST_ADMIN_TOKEN, waitFor, type Intake } from '../support/harness';
import { freePort } from '../support/ports';
import { mailgunRequest, send } from '../support/requests';

const root = path.resolve(__dirname, '../..');

/**
 * Issue 21, one front door for operators: `intake events …` talks to the admin API only. With
 * INTAKE_API_URL set and TEMPORAL_ADDRESS pointing at a closed port, list and show still work; the
 * admin token comes from INTAKE_ADMIN_TOKEN or, when unset, from `npm start`'s dev-secrets.json.
 */
describe('the operator CLI through the admin API alone', () => {
  let intake: Intake;
  let dataDir: string;
  let closedTemporal: string;
  let id: string;

  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    run(path.join(root, 'node_modules', '.bin', 'tsx'), ['src/cli/main.ts', ...args], {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'warn',
      INTAKE_API_URL: intake.url,
      INTAKE_DATA_DIR: dataDir,
      // Nothing listens there: a command that went to Temporal would fail.
      TEMPORAL_ADDRESS: closedTemporal,
      ...env,
    });

  beforeAll(async () => {
    intake = await startIntake({ store: 'pglite' });
    closedTemporal = `127.0.0.1:${await freePort()}`;
    const req = mailgunRequest();
    expect((await send(intake.url, req)).status).toBe(200);
    id = `mailgun:${req.eventId}`;
    await waitFor(
      async () =>
        (await adminGet(intake.url, `/events/${encodeURIComponent(id)}`)).json.status === 'processed',
    );
  });
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-operator-cli-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  afterAll(async () => {
    await intake?.stop();
  });

  it('lists and shows events with only INTAKE_API_URL and INTAKE_ADMIN_TOKEN, Temporal unreachable', async () => {
    const env = { INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN };
    const list = await waitFor(async () => {
      const r = await cli(['events', 'list', '--source', 'mailgun', '--limit', '1000', '--json'], env);
      return r.code === 0 && r.stdout.includes(id) ? r : undefined;
    });
    expect(JSON.parse(list.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ id, status: 'processed' })]),
    );
    const show = await cli(['events', 'show', id], env);
    expect(show.stderr).toBe('');
    expect(JSON.parse(show.stdout)).toMatchObject({ id, source: 'mailgun', status: 'processed' });
    const unknown = await cli(['events', 'show', 'mailgun:no-such-event'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('the API answered 404: unknown event');
    const notParked = await cli(['events', 'retry', id], env);
    expect(notParked.code).toBe(1);
    expect(notParked.stderr).toContain('the API answered 409: event is processed, not parked');
  });

  it('takes the admin token from INTAKE_DATA_DIR/dev-secrets.json when INTAKE_ADMIN_TOKEN is unset', async () => {
    fs.writeFileSync(
      path.join(dataDir, 'dev-secrets.json'),
      JSON.stringify({ INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN }),
    );
    const show = await cli(['events', 'show', id]);
    expect(show.stderr).toBe('');
    expect(JSON.parse(show.stdout)).toMatchObject({ id, status: 'processed' });
  });

  it('without any admin token, or a wrong one, the 401 names INTAKE_ADMIN_TOKEN', async () => {
    for (const env of [{}, { INTAKE_ADMIN_TOKEN: 'wrong' }] as Record<string, string>[]) {
      const r = await cli(['events', 'show', id], env);
      expect({ env, code: r.code }).toEqual({ env, code: 1 });
      expect(r.stderr).toMatch(/refused the admin token \(401\): set INTAKE_ADMIN_TOKEN/);
    }
  });

  it('checks options with the API schema before sending anything', async () => {
    const nowhere = { INTAKE_API_URL: `http://127.0.0.1:${await freePort()}`, INTAKE_ADMIN_TOKEN: 'x' };
    for (const [args, message] of [
      [['events', 'list', '--limit', '0'], 'limit: '],
      [['events', 'list', '--status', 'lost'], 'status must be one of queued'],
      [['events', 'retry', '--parked', '--canary', 'ten'], 'canary must be N or P%'],
      [['events', 'retry', '--parked', '--issue', 'x'], 'issue must be an issue id'],
      [['events', 'retry', '--parked', '--rate', '0'], 'rate: must be at least 0.01 per second'],
    ] as const) {
      const r = await cli([...args], nowhere);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain('cannot reach');
    }
    const down = await cli(['events', 'list'], nowhere);
    expect(down.stderr).toContain(`cannot reach the Intake API at ${nowhere.INTAKE_API_URL}`);
  });
});
