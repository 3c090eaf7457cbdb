import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTctl, TCTL_VERSION, TctlNotFoundError } from '../../src/dev/tctl-binary';

function fakeBinary(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'tctl');
  fs.writeFileSync(file, '#!/bin/sh\necho fake\n', { mode: 0o755 });
  return file;
}

describe('findTctl lookup order', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-tctl-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('uses TCTL_PATH first, then PATH, then the cache', async () => {
    const explicit = fakeBinary(path.join(root, 'explicit'));
    const onPath = fakeBinary(path.join(root, 'bin'));
    const cached = fakeBinary(path.join(root, 'cache', 'tctl', TCTL_VERSION));
    const cacheDir = path.join(root, 'cache');
    const env = { PATH: `/nonexistent:${path.join(root, 'bin')}` };
    expect(await findTctl({ explicitPath: explicit, env, cacheDir, lookOnly: true })).toBe(explicit);
    expect(await findTctl({ env, cacheDir, lookOnly: true })).toBe(onPath);
    expect(await findTctl({ env: { PATH: '/nonexistent' }, cacheDir, lookOnly: true })).toBe(cached);
  });

  it('refuses a TCTL_PATH that is not executable, and says how to get tctl when nothing is found', async () => {
    await expect(
      findTctl({ explicitPath: path.join(root, 'missing'), env: {}, lookOnly: true }),
    ).rejects.toThrow(/TCTL_PATH=.*missing/);
    const err = await findTctl({ env: { PATH: '' }, cacheDir: root, lookOnly: true }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TctlNotFoundError);
    expect((err as Error).message).toContain(`go get github.com/temporalio/tctl@${TCTL_VERSION}`);
    expect((err as Error).message).toContain(path.join(root, 'tctl', TCTL_VERSION, 'tctl'));
  });
});

/** A stand-in `go`: `mod init` and `get` do nothing; `build -o OUT` logs OUT and writes a fake tctl. */
function fakeGo(binDir: string, log: string): void {
  fs.mkdirSync(binDir, { recursive: true });
  fs.writeFileSync(
    path.join(binDir, 'go'),
    [
      '#!/bin/sh',
      'if [ "$1" = build ]; then',
      `  echo "$3" >> ${log}`,
      '  sleep 1',
      `  printf '#!/bin/sh\\necho fake\\n' > "$3"`,
      '  chmod +x "$3"',
      'fi',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
}

// Issue 19: concurrent first runs built tctl several times, two of them into the same tctl.tmp.
describe('building tctl', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-tctl-build-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('builds once when several lookups run at once, into a unique temporary file, then renames', async () => {
    const log = path.join(root, 'go.log');
    fakeGo(path.join(root, 'bin'), log);
    const cacheDir = path.join(root, 'cache');
    const find = () =>
      findTctl({
        env: { PATH: `${path.join(root, 'bin')}:/usr/bin:/bin` },
        cacheDir,
        progress: () => undefined,
      });
    const dest = path.join(cacheDir, 'tctl', TCTL_VERSION, 'tctl');
    expect(await Promise.all([find(), find(), find()])).toEqual([dest, dest, dest]);
    const outputs = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(outputs).toHaveLength(1);
    expect(outputs[0]).not.toBe(`${dest}.tmp`);
    expect(path.basename(path.dirname(outputs[0]!))).toMatch(/^\.build-/);
    expect(fs.readdirSync(path.dirname(dest))).toEqual(['tctl']);
  });
});
