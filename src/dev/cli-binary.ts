import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withFileLock } from '../platform/file-lock';

/** The Temporal CLI release Intake pins: the last one that `go install` can build. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** Options of {@link findTemporalCli}. */
export interface FindTemporalCliOptions {
  /** TEMPORAL_CLI_PATH: used first, and must exist when given. */
  explicitPath?: string;
  /** Cache folder (outside the repo). Default `$XDG_CACHE_HOME/intake` or `~/.cache/intake`. */
  cacheDir?: string;
  /** Progress lines for long steps (download, go build). Default: stderr. */
  progress?: (line: string) => void;
  /** Give up on the release download after this long. Default 20 s (fails in seconds offline). */
  downloadTimeoutMs?: number;
  /** Release archive URL (tests point it at a closed port). Default: the official download. */
  downloadUrl?: string;
  /** Skip the network steps (download, go install): only look. */
  lookOnly?: boolean;
  /** The environment (PATH, XDG_CACHE_HOME, Go settings) from Config.childEnv. */
  env: NodeJS.ProcessEnv;
  /** Abandons a download or build (a stop requested during start-up): the go process is killed. */
  signal?: AbortSignal;
}

/** Raised when no way to get the `temporal` binary worked; the message lists them all. */
export class TemporalCliNotFoundError extends Error {
  override readonly name = 'TemporalCliNotFoundError';
}

/** Default cache folder for the binary, outside any repository. */
export function defaultCacheDir(home = os.homedir(), xdg?: string): string {
  return path.join(xdg || path.join(home, '.cache'), 'intake');
}

/** True when `file` is an executable regular file. */
export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable called `name` in the PATH-style list `pathEnv`. */
export function onPath(name: string, pathEnv: string): string | undefined {
  for (const dir of pathEnv.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** An error's message with its cause (fetch hides the network reason there). */
function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : e.message;
}

function platformArch(): { platform: string; arch: string } {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return { platform: process.platform, arch };
}

/** Downloads the official release archive and unpacks `temporal` into `destDir`. */
/** The official release archive for this platform. */
export function releaseUrl(): string {
  const { platform, arch } = platformArch();
  return `https://temporal.download/cli/archive/${TEMPORAL_CLI_VERSION}?platform=${platform}&arch=${arch}`;
}

async function download(
  url: string,
  destDir: string,
  timeoutMs: number,
  progress: (l: string) => void,
  signal?: AbortSignal,
): Promise<string> {
  const { platform, arch } = platformArch();
  progress(`Downloading the Temporal CLI ${TEMPORAL_CLI_VERSION} (${platform}/${arch})…`);
  const timeout = AbortSignal.timeout(timeoutMs);
  const res = await fetch(url, {
    signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    redirect: 'follow',
  });
  if (!res.ok || !res.body) throw new Error(`download answered HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const chunks: Buffer[] = [];
  let received = 0;
  let lastPct = -10;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(Buffer.from(chunk));
    received += chunk.length;
    const pct = total ? Math.floor((received / total) * 100) : -1;
    if (pct >= lastPct + 10) {
      lastPct = pct;
      progress(`  ${pct}% of ${(total / 1e6).toFixed(1)} MB`);
    }
  }
  return intoPlace(destDir, 'download', (tmp) => {
    const archive = path.join(tmp, 'temporal.tar.gz');
    fs.writeFileSync(archive, Buffer.concat(chunks));
    const tar = spawnSync('tar', ['-xzf', archive, '-C', tmp, 'temporal'], { stdio: 'pipe' });
    if (tar.status !== 0) throw new Error(`could not unpack: ${tar.stderr.toString().trim()}`);
    return Promise.resolve();
  });
}

/**
 * Makes the binary `name` in a fresh temporary folder inside `destDir` (unique per call, same file
 * system) and renames it into place, so a concurrent lookup never runs half a binary and two
 * writers never share a file.
 */
export async function intoPlace(
  destDir: string,
  label: string,
  make: (tmpDir: string) => Promise<void>,
  name = 'temporal',
): Promise<string> {
  fs.mkdirSync(destDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(destDir, `.${label}-`));
  try {
    await make(tmp);
    const dest = path.join(destDir, name);
    fs.renameSync(path.join(tmp, name), dest);
    return dest;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The progress line while Go builds: module downloads come first (`go: downloading …` lines on
 * stderr); once they have stopped for `quietMs`, or when there were none (a warm module cache), Go
 * is compiling, which takes most of the time and prints nothing.
 */
export function goBuildProgress(
  what: string,
  elapsedMs: number,
  fetched: number,
  msSinceLastFetch: number,
  quietMs = 10_000,
): string {
  const s = Math.round(elapsedMs / 1000);
  const phase =
    fetched > 0 && msSinceLastFetch < quietMs
      ? `fetching modules, ${fetched} so far`
      : `compiling${fetched ? ` (${fetched} modules fetched)` : ''}`;
  return `  still building ${what}… ${s} s, ${phase}`;
}

/** Watches a Go command's stderr: `go: downloading` lines and the tail, for progress and errors. */
export class GoOutputWatch {
  fetched = 0;
  lastFetchAt = 0;
  tail = '';
  private readonly started = Date.now();

  /** Feeds a chunk of stderr. */
  feed(chunk: string): void {
    this.tail = (this.tail + chunk).slice(-2000);
    const n = chunk.split('\n').filter((l) => l.startsWith('go: downloading')).length;
    if (n > 0) {
      this.fetched += n;
      this.lastFetchAt = Date.now();
    }
  }

  /** The progress line now. */
  line(what: string): string {
    const now = Date.now();
    return goBuildProgress(what, now - this.started, this.fetched, now - this.lastFetchAt);
  }
}

/** Builds the pinned release with the Go toolchain into `destDir`, streaming its progress. */
async function goInstall(
  destDir: string,
  env: NodeJS.ProcessEnv,
  progress: (l: string) => void,
  signal?: AbortSignal,
): Promise<string> {
  const go =
    onPath('go', env.PATH ?? '') ??
    (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new Error('no Go toolchain on PATH');
  progress(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (10–20 minutes the first time on a small machine)…`,
  );
  const started = Date.now();
  const dest = await intoPlace(
    destDir,
    'build',
    (gobin) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(
          go,
          ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`],
          {
            env: { ...env, GOBIN: gobin, GOFLAGS: '-mod=mod' },
            stdio: ['ignore', 'ignore', 'pipe'],
            signal,
          },
        );
        const watch = new GoOutputWatch();
        const ticker = setInterval(() => progress(watch.line('the Temporal CLI')), 15_000);
        child.stderr.on('data', (d: Buffer) => watch.feed(d.toString()));
        child.on('error', (e) => {
          clearInterval(ticker);
          reject(e);
        });
        child.on('exit', (code) => {
          clearInterval(ticker);
          if (code === 0) resolve();
          else
            reject(
              new Error(`go install exited ${code}: ${watch.tail.trim().split('\n').slice(-3).join(' | ')}`),
            );
        });
      }),
  );
  progress(`  built in ${Math.round((Date.now() - started) / 1000)} s`);
  return dest;
}

/** Under the build lock: the binary if another process put it in place meanwhile, else download, else go install. */
async function fetchCli(
  opts: FindTemporalCliOptions,
  binDir: string,
  cached: string,
  progress: (l: string) => void,
  failures: string[],
): Promise<string | undefined> {
  if (isExecutable(cached)) return cached;
  try {
    return await download(
      opts.downloadUrl ?? releaseUrl(),
      binDir,
      opts.downloadTimeoutMs ?? 20_000,
      progress,
      opts.signal,
    );
  } catch (err) {
    failures.push(`release download: ${describe(err)}`);
    progress(`  download failed (${describe(err)}); trying go install`);
  }
  try {
    if (opts.signal?.aborted) throw new Error('interrupted');
    return await goInstall(binDir, opts.env, progress, opts.signal);
  } catch (err) {
    failures.push(`go install: ${describe(err)}`);
  }
  return undefined;
}

/**
 * Finds the `temporal` binary, in the order DESIGN.md gives: TEMPORAL_CLI_PATH, `temporal` on PATH,
 * the project's cache, the official release download, `go install …@v1.5.1`. What it fetched is
 * kept in the cache for next time.
 */
export async function findTemporalCli(opts: FindTemporalCliOptions): Promise<string> {
  const progress = opts.progress ?? ((l: string) => process.stderr.write(l + '\n'));
  if (opts.explicitPath) {
    if (isExecutable(opts.explicitPath)) return opts.explicitPath;
    throw new TemporalCliNotFoundError(`TEMPORAL_CLI_PATH=${opts.explicitPath} is not an executable file`);
  }
  const fromPath = onPath('temporal', opts.env.PATH ?? '');
  if (fromPath) return fromPath;
  const cacheDir = opts.cacheDir ?? defaultCacheDir(opts.env.HOME || os.homedir(), opts.env.XDG_CACHE_HOME);
  const binDir = path.join(cacheDir, 'temporal-cli', TEMPORAL_CLI_VERSION);
  const cached = path.join(binDir, 'temporal');
  if (isExecutable(cached)) return cached;
  const failures: string[] = [];
  if (!opts.lookOnly) {
    // One download or build at a time per cache (several terminals, a test run): the others wait,
    // then find the binary the first one put in place.
    const found = await withFileLock(
      path.join(binDir, '.build.lock'),
      () => fetchCli(opts, binDir, cached, progress, failures),
      {
        onWait: (holder) =>
          progress(`Waiting for another download or build of the Temporal CLI (${holder})…`),
        signal: opts.signal,
      },
    );
    if (found) return found;
  }
  throw new TemporalCliNotFoundError(
    [
      'The Temporal CLI (`temporal`) was not found. Provide it in one of these ways:',
      '  - set TEMPORAL_CLI_PATH to the binary',
      '  - put `temporal` on PATH (https://docs.temporal.io/cli#install)',
      `  - place it at ${cached}`,
      `  - install Go and run: GOBIN=${binDir} go install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`,
      ...(failures.length ? ['What was tried:', ...failures.map((f) => '  - ' + f)] : []),
    ].join('\n'),
  );
}
