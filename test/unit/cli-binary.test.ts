import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { withFileLock } from '../../src/platform/file-lock';
import {
  findTemporalCli,
  goBuildProgress,
  TemporalCliNotFoundError,
  TEMPORAL_CLI_VERSION,
} from '../../src/dev/cli-binary';

function fakeBinary(dir: string, name = 'temporal'): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, '#!/bin/sh\necho fake\n', { mode: 0o755 });
  return file;
}

describe('findTemporalCli lookup order', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-cli-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('uses TEMPORAL_CLI_PATH first, even when PATH and the cache have one', async () => {
    const explicit = fakeBinary(path.join(root, 'explicit'));
    fakeBinary(path.join(root, 'bin'));
    fakeBinary(path.join(root, 'cache', 'temporal-cli', TEMPORAL_CLI_VERSION));
    const found = await findTemporalCli({
      explicitPath: explicit,
      env: { PATH: path.join(root, 'bin') },
      cacheDir: path.join(root, 'cache'),
      lookOnly: true,
    });
    expect(found).toBe(explicit);
  });

  it('refuses a TEMPORAL_CLI_PATH that is not an executable, naming it', async () => {
    await expect(
      findTemporalCli({ explicitPath: path.join(root, 'missing'), env: {}, lookOnly: true }),
    ).rejects.toThrow(/TEMPORAL_CLI_PATH=.*missing/);
  });

  it('then PATH, then the cache outside the repo', async () => {
    const onPath = fakeBinary(path.join(root, 'bin'));
    const cached = fakeBinary(path.join(root, 'cache', 'temporal-cli', TEMPORAL_CLI_VERSION));
    const env = { PATH: `/nonexistent:${path.join(root, 'bin')}` };
    expect(await findTemporalCli({ env, cacheDir: path.join(root, 'cache'), lookOnly: true })).toBe(onPath);
    expect(
      await findTemporalCli({
        env: { PATH: '/nonexistent' },
        cacheDir: path.join(root, 'cache'),
        lookOnly: true,
      }),
    ).toBe(cached);
  });

  it('defaults the cache to $XDG_CACHE_HOME/intake', async () => {
    const cached = fakeBinary(path.join(root, 'xdg', 'intake', 'temporal-cli', TEMPORAL_CLI_VERSION));
    expect(
      await findTemporalCli({ env: { PATH: '', XDG_CACHE_HOME: path.join(root, 'xdg') }, lookOnly: true }),
    ).toBe(cached);
  });

  it('explains every way to provide it when nothing is found', async () => {
    const err = await findTemporalCli({
      env: { PATH: '' },
      cacheDir: path.join(root, 'cache'),
      lookOnly: true,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalCliNotFoundError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/TEMPORAL_CLI_PATH/);
    expect(msg).toMatch(/PATH/);
    expect(msg).toContain(path.join(root, 'cache', 'temporal-cli', TEMPORAL_CLI_VERSION, 'temporal'));
    expect(msg).toContain(`go install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`);
  });

  it('gives up on an unreachable download quickly and falls through to go install, then reports both', async () => {
    // A closed local port stands in for an offline machine; no Go toolchain on this PATH.
    const err = (await findTemporalCli({
      env: { PATH: '' },
      cacheDir: path.join(root, 'cache'),
      downloadTimeoutMs: 1500,
      downloadUrl: 'http://127.0.0.1:9/temporal.tar.gz',
      progress: () => undefined,
    }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(TemporalCliNotFoundError);
    expect(err.message).toMatch(/release download: /);
    expect(err.message).toMatch(/go install: /);
  });
});

/** A stand-in `go` on PATH: logs where it builds, takes a moment, writes a fake `temporal` there. */
function fakeGo(binDir: string, log: string): void {
  fs.mkdirSync(binDir, { recursive: true });
  fs.writeFileSync(
    path.join(binDir, 'go'),
    `#!/bin/sh\necho "$GOBIN" >> ${log}\necho 'go: downloading example.com/m v1.0.0' >&2\nsleep 1\nprintf '#!/bin/sh\\necho fake\\n' > "$GOBIN/temporal"\nchmod +x "$GOBIN/temporal"\n`,
    { mode: 0o755 },
  );
}

// Issue 19: three identical builds ran at once on a first start; two wrote the same file.
describe('building the temporal CLI', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-cli-build-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('builds once when several lookups run at once, in a unique temporary folder, then renames', async () => {
    const log = path.join(root, 'go.log');
    fakeGo(path.join(root, 'bin'), log);
    const cacheDir = path.join(root, 'cache');
    const lines: string[] = [];
    const find = () =>
      findTemporalCli({
        env: { PATH: `${path.join(root, 'bin')}:/usr/bin:/bin` },
        cacheDir,
        downloadTimeoutMs: 1000,
        downloadUrl: 'http://127.0.0.1:9/temporal.tar.gz',
        progress: (l) => lines.push(l),
      });
    const found = await Promise.all([find(), find(), find()]);
    const binDir = path.join(cacheDir, 'temporal-cli', TEMPORAL_CLI_VERSION);
    expect(found).toEqual([0, 1, 2].map(() => path.join(binDir, 'temporal')));
    const builds = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(builds).toHaveLength(1);
    expect(path.dirname(builds[0]!)).toBe(binDir);
    expect(path.basename(builds[0]!)).toMatch(/^\.build-/);
    expect(fs.readdirSync(binDir)).toEqual(['temporal']); // no temporary folder, no lock left
    expect(lines.filter((l) => l.startsWith('Waiting for another download or build'))).toHaveLength(2);
  });

  it('says "compiling" once modules stop arriving, or when none had to be fetched', () => {
    expect(goBuildProgress('the Temporal CLI', 30_000, 0, Infinity)).toBe(
      '  still building the Temporal CLI… 30 s, compiling',
    );
    expect(goBuildProgress('tctl', 45_000, 120, 2_000)).toBe(
      '  still building tctl… 45 s, fetching modules, 120 so far',
    );
    expect(goBuildProgress('tctl', 300_000, 412, 60_000)).toBe(
      '  still building tctl… 300 s, compiling (412 modules fetched)',
    );
  });
});

describe('withFileLock (cross-process)', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-lock-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('waits while another live process holds the lock, and takes it over once that process is gone', async () => {
    const lock = path.join(root, 'x.lock');
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    fs.writeFileSync(lock, `pid ${holder.pid} host ${os.hostname()} since now\n`);
    const waits: string[] = [];
    let ran = false;
    const locked = withFileLock(
      lock,
      async () => {
        ran = true;
        expect(fs.readFileSync(lock, 'utf8')).toContain(`pid ${process.pid} `);
        return 'done';
      },
      { pollMs: 100, onWait: (h) => waits.push(h) },
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(ran).toBe(false);
    expect(waits).toEqual([expect.stringContaining(`pid ${holder.pid}`)]);
    const exited = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    await exited;
    expect(await locked).toBe('done');
    expect(fs.existsSync(lock)).toBe(false);
  });
});
