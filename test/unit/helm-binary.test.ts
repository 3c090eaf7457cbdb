import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cachedHelmPath, ensureHelm, HelmNotFoundError } from '../../scripts/helm-binary';

/**
 * ensureHelm's cache and cross-process lock, with a stand-in `go` on PATH that "builds" a helm
 * script slowly and counts its runs: concurrent callers must build once and all get the binary.
 */
describe('ensureHelm', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const runs = () => fs.readFileSync(path.join(dir, 'runs'), 'utf8').split('\n').filter(Boolean).length;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-helm-'));
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(dir, 'runs'), '');
    fs.writeFileSync(
      path.join(bin, 'go'),
      [
        '#!/bin/sh',
        `echo "$*" >> ${path.join(dir, 'runs')}`,
        'sleep 2',
        'printf "#!/bin/sh\\necho v3.22.0+gfake\\n" > "$GOBIN/helm"',
        'chmod +x "$GOBIN/helm"',
      ].join('\n'),
      { mode: 0o755 },
    );
    env = { PATH: `${bin}:/usr/bin:/bin`, HOME: dir };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds once for concurrent callers, then answers from the cache', async () => {
    const cacheDir = path.join(dir, 'cache');
    const quiet = () => undefined;
    const paths = await Promise.all([1, 2, 3].map(() => ensureHelm({ env, cacheDir, progress: quiet })));
    expect(new Set(paths)).toEqual(new Set([cachedHelmPath(cacheDir)]));
    expect(runs()).toBe(1);
    expect(fs.readFileSync(path.join(dir, 'runs'), 'utf8')).toContain(
      'install helm.sh/helm/v3/cmd/helm@v3.22',
    );
    await ensureHelm({ env, cacheDir, progress: quiet });
    expect(runs()).toBe(1);
    expect(fs.existsSync(`${path.dirname(cachedHelmPath(cacheDir))}.lock`)).toBe(false);
  });

  it('takes over a lock left by a dead process', async () => {
    const cacheDir = path.join(dir, 'cache');
    const lock = `${path.dirname(cachedHelmPath(cacheDir))}.lock`;
    fs.mkdirSync(lock, { recursive: true });
    fs.writeFileSync(path.join(lock, 'pid'), '999999999');
    expect(await ensureHelm({ env, cacheDir, progress: () => undefined })).toBe(cachedHelmPath(cacheDir));
    expect(runs()).toBe(1);
  });

  it('uses HELM_PATH first and refuses one that is not executable', async () => {
    const fake = path.join(dir, 'helm');
    fs.writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });
    expect(await ensureHelm({ env: { ...env, HELM_PATH: fake }, cacheDir: path.join(dir, 'c') })).toBe(fake);
    await expect(
      ensureHelm({ env: { ...env, HELM_PATH: path.join(dir, 'missing') }, cacheDir: path.join(dir, 'c') }),
    ).rejects.toThrow(HelmNotFoundError);
    expect(runs()).toBe(0);
  });
});
