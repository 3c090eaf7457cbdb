import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../support/cli';
import { waitFor } from '../support/harness';
import { freePort } from '../support/ports';

// `npm start` brings up its own Temporal dev server, API and worker on a busy 2-core host.
jest.setTimeout(900_000);

const ROOT = path.resolve(__dirname, '../..');

/** The shell blocks of README.md marked ```sh five-minutes:<name>, by name, in order. */
function recipeBlocks(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of fs
    .readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    .matchAll(/^```sh five-minutes:([a-z-]+)\n([\s\S]*?)^```/gm)) {
    out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

/**
 * README "Receive GitHub (or Stripe, …) webhooks in five minutes", every block as written, as a new
 * user runs it in a clone after `npm install`: the exports, the sources file and its check, the
 * receiver and `npm start` in terminals of their own, then `intake send github --example`, which the
 * receiver gets with a valid signature. Only the ports differ (free ones instead of 3000, 4000 and
 * 7233, so runs side by side do not collide), and the data folder is a fresh one.
 */
describe('README "Receive GitHub (or Stripe, …) webhooks in five minutes"', () => {
  const blocks = recipeBlocks();
  const sourcesFile = path.join(ROOT, 'sources.yaml');
  const terminals: { name: string; proc: ChildProcess; out: () => string }[] = [];
  let env: NodeJS.ProcessEnv;
  let receiverPort: number;
  let dataDir: string;

  beforeAll(async () => {
    if (fs.existsSync(sourcesFile)) throw new Error(`${sourcesFile} exists: the recipe would overwrite it`);
    receiverPort = await freePort();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-five-minutes-'));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      // Where `npm start` finds the temporal binary (README "Quick start").
      TEMPORAL_CLI_PATH: process.env.INTAKE_TEST_TEMPORAL_CLI ?? process.env.TEMPORAL_CLI_PATH,
      PORT: String(await freePort()),
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      INTAKE_DATA_DIR: dataDir,
    };
  });

  afterAll(async () => {
    for (const t of terminals.reverse()) {
      if (t.proc.exitCode !== null || t.proc.signalCode !== null) continue;
      const exited = new Promise((r) => t.proc.once('exit', r));
      process.kill(-t.proc.pid!, 'SIGINT'); // Ctrl-C in that terminal
      const timer = setTimeout(() => process.kill(-t.proc.pid!, 'SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(sourcesFile, { force: true });
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** A block as written, the receiver's port 4000 moved; run after the secrets block, as in one shell. */
  const script = (name: string) => {
    const text = blocks.get(name);
    if (!text) throw new Error(`README.md has no block marked five-minutes:${name}`);
    return `${blocks.get('secrets')}\n${text.replace(/\b4000\b/g, String(receiverPort))}`;
  };
  const runBlock = async (name: string) => {
    const res = await run('bash', ['-euo', 'pipefail', '-c', script(name)], env, 300_000);
    if (res.code !== 0)
      throw new Error(`five-minutes:${name} exited ${res.code}: ${res.stderr}${res.stdout}`);
    return res.stdout;
  };
  /** A block left running in a terminal of its own; resolves once its output contains `ready`. */
  const terminal = async (name: string, ready: string) => {
    let out = '';
    const proc = spawn('bash', ['-euo', 'pipefail', '-c', script(name)], {
      cwd: ROOT,
      env,
      detached: true, // its own process group, as a terminal
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
    terminals.push({ name, proc, out: () => out });
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`five-minutes:${name} exited ${proc.exitCode}: ${out}`);
        return out.includes(ready);
      },
      600_000,
      `five-minutes:${name} printing "${ready}"`,
    );
    return () => out;
  };

  it('has the blocks the recipe promises', () => {
    expect([...blocks.keys()]).toEqual(['secrets', 'file', 'receiver', 'start', 'send']);
  });

  it('runs every block as written: the example ping reaches the receiver, signed', async () => {
    expect(await runBlock('file')).toMatch(/^ok: .*sources\.yaml: 1 file source\(s\)/m);
    const receiver = await terminal('receiver', `receiver on http://127.0.0.1:${receiverPort}`);
    const intake = await terminal('start', 'Intake is running.');
    expect(intake()).toContain('/webhooks/github');

    const sent = await runBlock('send');
    const m = /^200 \{"id":"github:(example-[0-9a-f-]+)","status":"accepted"\}$/m.exec(sent);
    expect(m).not.toBeNull();
    expect(sent).toContain(`Delivered to: http://127.0.0.1:${receiverPort}/hooks/github`);
    await waitFor(async () => receiver().includes(`received ${m![1]} ping`), 120_000, 'the receiver got it');
    expect(receiver()).not.toContain('bad signature');
  });
});
