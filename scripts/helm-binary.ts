import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultCacheDir, isExecutable, onPath } from '../src/dev/cli-binary';

/** The Helm release the chart is checked with, built from the Go module proxy. */
export const HELM_VERSION = 'v3.22.0';

/** Options of {@link ensureHelm}. */
export interface EnsureHelmOptions {
  /** HELM_PATH, PATH, HOME, XDG_CACHE_HOME and the Go settings. */
  env: NodeJS.ProcessEnv;
  /** Cache folder (outside the repo). Default `$XDG_CACHE_HOME/intake` or `~/.cache/intake`. */
  cacheDir?: string;
  /** Progress lines of a build. Default: stderr. */
  progress?: (line: string) => void;
  /** Give up on a build (ours or another process's) after this long. Default 40 minutes. */
  buildTimeoutMs?: number;
}

/** Raised when no helm binary could be found or built; the message says what was tried. */
export class HelmNotFoundError extends Error {
  override readonly name = 'HelmNotFoundError';
}

/** Where the pinned helm lives in the cache. */
export function cachedHelmPath(cacheDir: string): string {
  return path.join(cacheDir, 'helm', HELM_VERSION, 'helm');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A cross-process lock: a directory made with mkdir (atomic), holding the owner's pid. A lock
 * whose owner died, or older than `staleMs`, is taken over. Resolves with the release function.
 * Hand-written because no lock library is a dependency, and a build lock needs only this.
 */
async function acquireLock(
  dir: string,
  staleMs: number,
  waitMs: number,
  onWait: (ownerPid: number) => void,
): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
      return () => fs.rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = 0;
    let age = 0;
    try {
      owner = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
      age = Date.now() - fs.statSync(dir).mtimeMs;
    } catch {
      // Just created (pid not written yet) or just released: look again.
    }
    if ((owner > 0 && !pidAlive(owner)) || age > staleMs) {
      fs.rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new HelmNotFoundError(`waited ${Math.round(waitMs / 1000)} s for ${dir}`);
    if (!told && owner > 0) {
      onWait(owner);
      told = true;
    }
    await sleep(2000);
  }
}

/** `go install helm.sh/helm/v3/cmd/helm@<version>` into a fresh folder, then renamed into place. */
async function build(dest: string, env: NodeJS.ProcessEnv, timeoutMs: number, progress: (l: string) => void) {
  const go =
    onPath('go', env.PATH ?? '') ??
    (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new HelmNotFoundError('no Go toolchain on PATH (nor /usr/local/go/bin/go) to build helm');
  const work = `${path.dirname(dest)}.build-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  progress(`Building helm ${HELM_VERSION} with go install (a few minutes the first time)…`);
  const started = Date.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('nice', ['-n', '10', go, 'install', `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
        env: { ...env, GOBIN: work, GOFLAGS: '-mod=mod' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let tail = '';
      child.stderr.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-2000)));
      const ticker = setInterval(
        () => progress(`  still building helm… ${Math.round((Date.now() - started) / 1000)} s`),
        30_000,
      );
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        clearInterval(ticker);
        clearTimeout(timer);
        if (code === 0) resolve();
        else
          reject(
            new HelmNotFoundError(
              signal
                ? `go install of helm did not finish within ${Math.round(timeoutMs / 1000)} s`
                : `go install of helm exited ${code}: ${tail.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          );
      });
    });
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.renameSync(path.join(work, 'helm'), dest);
    progress(`  built helm in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The version a helm binary reports (`v3.22.0+g…` → `v3.22.0`), or undefined when it fails. */
export function helmVersion(binary: string): string | undefined {
  const r = spawnSync(binary, ['version', '--short'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout.trim().split('+')[0] : undefined;
}

/**
 * The helm binary: HELM_PATH when set (must be executable), else the cached build of
 * HELM_VERSION, else a build of it under a cross-process lock, so parallel test runs and CI
 * steps build it once. PATH's helm is not used: the checks pin one release.
 */
export async function ensureHelm(opts: EnsureHelmOptions): Promise<string> {
  const progress = opts.progress ?? ((l: string) => process.stderr.write(l + '\n'));
  const explicit = opts.env.HELM_PATH;
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new HelmNotFoundError(`HELM_PATH=${explicit} is not an executable file`);
  }
  const cacheDir = opts.cacheDir ?? defaultCacheDir(opts.env.HOME || os.homedir(), opts.env.XDG_CACHE_HOME);
  const dest = cachedHelmPath(cacheDir);
  if (isExecutable(dest)) return dest;
  const timeoutMs = opts.buildTimeoutMs ?? 40 * 60_000;
  fs.mkdirSync(path.dirname(path.dirname(dest)), { recursive: true });
  const release = await acquireLock(`${path.dirname(dest)}.lock`, timeoutMs, timeoutMs + 60_000, (pid) =>
    progress(`Waiting for process ${pid}, which is building helm ${HELM_VERSION}…`),
  );
  try {
    if (!isExecutable(dest)) await build(dest, opts.env, timeoutMs, progress);
  } finally {
    release();
  }
  return dest;
}
