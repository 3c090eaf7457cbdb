import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTemporalCli, TemporalCliNotFoundError, TEMPORAL_CLI_VERSION } from '../../src/dev/cli-binary';

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
