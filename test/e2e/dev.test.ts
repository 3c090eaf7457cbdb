import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/ports';
import { waitFor } from '../support/harness';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const main = path.join(root, 'src', 'cli', 'main.ts');

/** `npm start` (intake dev) as a new user runs it: no secrets given, everything embedded. */
describe('intake dev (npm start): the embedded default end to end', () => {
  let dir: string;
  let dev: ChildProcess | undefined;
  let output = '';
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-dev-'));
    const temporalPort = await freePort();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_CLI_PATH: process.env.INTAKE_TEST_TEMPORAL_CLI,
      PORT: String(await freePort()),
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      INTAKE_DATA_DIR: dir,
      LOG_LEVEL: 'warn',
      // A failpoint the test's Mailgun event does not hit: the banner must say it is on.
      INTAKE_FAILPOINTS: 'partners.handler=customer.deleted',
    };
    dev = spawn(tsx, [main, 'dev'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    dev.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    dev.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(
      async () => output.includes('Try it:'),
      120_000,
      `intake dev to start; output so far:\n${output}`,
    );
  });

  afterAll(async () => {
    if (dev && dev.exitCode === null) {
      dev.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints the API and Web UI addresses and the development secrets it generated', () => {
    expect(output).toContain(`API        http://127.0.0.1:${env.PORT}`);
    expect(output).toMatch(/Web UI {5}http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(/MAILGUN_SIGNING_KEY=[0-9a-f]{48}/);
    expect(output).toMatch(/INTAKE_PARTNER_SECRETS=acme=whsec_/);
    expect(output).toMatch(/INTAKE_ADMIN_TOKEN=\S+/);
    expect(output).toContain('Failpoints ON   INTAKE_FAILPOINTS=partners.handler=customer.deleted');
    expect(output).toContain('retries ~8.5 min before it parks');
  });

  it('binds the API to loopback only (HOST unset): reachable on 127.0.0.1, refused on the LAN address', async () => {
    expect((await fetch(`http://127.0.0.1:${env.PORT}/healthz`)).status).toBe(200);
    const lan = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a?.family === 'IPv4' && !a.internal)?.address;
    if (!lan) throw new Error('no non-loopback IPv4 interface to test from');
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(env.PORT), lan);
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('`intake send mailgun --example` ends processed, listed by IntakeSource in the temporal CLI', async () => {
    const sent = await run(tsx, [main, 'send', 'mailgun', '--example'], { env });
    const m = /^200 (\{.*\})$/m.exec(sent.stdout);
    expect(m).not.toBeNull();
    const id = (JSON.parse(m![1]!) as { id: string }).id;
    expect(id).toMatch(/^mailgun:/);

    // A second terminal's settings, as the README gives them: eval "$(npx intake env)".
    const shell = await run('bash', ['-c', `eval "$(${tsx} ${main} env)" && env`], {
      env: { PATH: env.PATH, HOME: env.HOME, INTAKE_DATA_DIR: dir },
    });
    const exported = new Map(
      shell.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(exported.get('INTAKE_API_URL')).toBe(`http://127.0.0.1:${env.PORT}`);
    expect(exported.get('TEMPORAL_ADDRESS')).toBe(env.TEMPORAL_ADDRESS);
    const token = exported.get('INTAKE_ADMIN_TOKEN')!;
    expect(output).toContain(`INTAKE_ADMIN_TOKEN=${token}`);
    const view = await waitFor(
      async () => {
        const r = await fetch(`http://127.0.0.1:${env.PORT}/events/${encodeURIComponent(id)}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const b = (await r.json()) as { status?: string };
        return b.status === 'processed' ? b : undefined;
      },
      60_000,
      'processed',
    );
    expect(view).toMatchObject({ id, source: 'mailgun', status: 'processed' });
    // The API shares the in-process worker's connection: the start was eager (INTAKE_EAGER_START).
    const metrics = await (await fetch(`http://127.0.0.1:${env.PORT}/metrics`)).text();
    expect(metrics).toMatch(/^intake_workflow_starts_total\{source="mailgun"\} 1$/m);
    expect(metrics).toMatch(/^intake_eager_starts_total\{source="mailgun"\} 1$/m);

    // It prints the message id and the read route, and says the API wants the admin token.
    const messageId = /^Message id: (\S+)$/m.exec(sent.stdout)?.[1];
    expect(messageId).toMatch(/@mg\.example\.com$/);
    expect(sent.stdout).toMatch(
      /answers 401 without the admin token; INTAKE_ADMIN_TOKEN: printed by npm start/,
    );
    const read = /^Processed data: curl -H "Authorization: Bearer \$INTAKE_ADMIN_TOKEN" (\S+)$/m.exec(
      sent.stdout,
    )![1]!;
    const message = await fetch(read, { headers: { authorization: `Bearer ${token}` } });
    expect(message.status).toBe(200);
    expect(((await message.json()) as { messageId?: string }).messageId).toBe(messageId);

    const list = await run(process.env.INTAKE_TEST_TEMPORAL_CLI!, [
      'workflow',
      'list',
      '--address',
      env.TEMPORAL_ADDRESS!,
      '--query',
      'IntakeSource="mailgun"',
      '--output',
      'json',
    ]);
    const ids = (JSON.parse(list.stdout) as { execution: { workflowId: string } }[]).map(
      (w) => w.execution.workflowId,
    );
    expect(ids).toContain(id);

    const shown = await run(tsx, [main, 'events', 'show', id], { env });
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, status: 'processed', entity: messageId });
  });

  it('stops everything on Ctrl-C (SIGINT), the Temporal server included', async () => {
    const serverPids = await temporalPids(dir);
    expect(serverPids.length).toBe(1);
    const exited = new Promise<number | null>((r) => dev!.once('exit', (code) => r(code)));
    dev!.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(await temporalPids(dir)).toEqual([]);
  });
});

/** PIDs of `temporal server start-dev` processes using this data dir. */
async function temporalPids(dir: string): Promise<number[]> {
  const { stdout } = await run('ps', ['-eo', 'pid,args']).catch(() => ({ stdout: '' }));
  return (
    stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      // The server itself, not its supervisor (node -e … start-dev …).
      .filter((f) => /temporal$/.test(f[1] ?? '') && f.includes('start-dev') && f.join(' ').includes(dir))
      .map((f) => Number(f[0]))
  );
}
