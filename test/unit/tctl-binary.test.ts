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
