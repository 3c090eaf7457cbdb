import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withFileLock } from '../platform/file-lock';
import { defaultCacheDir, GoOutputWatch, intoPlace, isExecutable, onPath } from './cli-binary';

/**
 * The tctl release Intake pins (tctl reached end of support in 2025; operators still use it for
 * listing and signalling). `go install …@v1.18.0` fails where the Go proxy refuses `@v/list`, so
 * the build goes through a throw-away module instead.
 */
export const TCTL_VERSION = 'v1.18.0';

/** Options of {@link findTctl}. */
export interface FindTctlOptions {
  /** TCTL_PATH: used first, and must exist when given. */
  explicitPath?: string;
  /** Cache folder (outside the repo). Default `$XDG_CACHE_HOME/intake` or `~/.cache/intake`. */
  cacheDir?: string;
  /** Progress lines for the build. Default: stderr. */
  progress?: (line: string) => void;
  /** Only look (TCTL_PATH, PATH, cache); never build. */
  lookOnly?: boolean;
  /** The environment (PATH, XDG_CACHE_HOME, Go settings), from Config.childEnv. */
  env: NodeJS.ProcessEnv;
}

/** Raised when tctl was not found and could not be built; the message says how to provide it. */
export class TctlNotFoundError extends Error {
  override readonly name = 'TctlNotFoundError';
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  watch = new GoOutputWatch(),
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => watch.feed(d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `${path.basename(cmd)} ${args[0]} exited ${code}: ${watch.tail.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          ),
    );
  });
}

/**
 * Builds the pinned tctl from a throw-away module (go get, go build) into `dest`: built in a
 * temporary folder of its own beside it and renamed, so concurrent builds never write the same file
 * and a concurrent lookup never runs half a binary.
 */
async function build(dest: string, env: NodeJS.ProcessEnv, progress: (l: string) => void): Promise<string> {
  const go =
    onPath('go', env.PATH ?? '') ??
    (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new Error('no Go toolchain on PATH');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-tctl-'));
  const goEnv = { ...env, GOFLAGS: '-mod=mod' };
  const started = Date.now();
  const watch = new GoOutputWatch();
  const ticker = setInterval(() => progress(watch.line('tctl')), 30_000);
  try {
    progress(`Building tctl ${TCTL_VERSION} with Go (about 10 minutes the first time)…`);
    await run(go, ['mod', 'init', 'intake-tctl-build'], work, goEnv, watch);
    await run(go, ['get', `github.com/temporalio/tctl@${TCTL_VERSION}`], work, goEnv, watch);
    await intoPlace(
      path.dirname(dest),
      'build',
      (tmp) =>
        run(
          go,
          ['build', '-o', path.join(tmp, 'tctl'), 'github.com/temporalio/tctl/cmd/tctl'],
          work,
          goEnv,
          watch,
        ),
      'tctl',
    );
    progress(`  built in ${Math.round((Date.now() - started) / 1000)} s`);
    return dest;
  } finally {
    clearInterval(ticker);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Finds `tctl` like the temporal CLI is found: TCTL_PATH, `tctl` on PATH, the project's cache, then
 * a build of the pinned release (kept in the cache).
 */
export async function findTctl(opts: FindTctlOptions): Promise<string> {
  const progress = opts.progress ?? ((l: string) => process.stderr.write(l + '\n'));
  if (opts.explicitPath) {
    if (isExecutable(opts.explicitPath)) return opts.explicitPath;
    throw new TctlNotFoundError(`TCTL_PATH=${opts.explicitPath} is not an executable file`);
  }
  const fromPath = onPath('tctl', opts.env.PATH ?? '');
  if (fromPath) return fromPath;
  const cacheDir = opts.cacheDir ?? defaultCacheDir(opts.env.HOME || os.homedir(), opts.env.XDG_CACHE_HOME);
  const cached = path.join(cacheDir, 'tctl', TCTL_VERSION, 'tctl');
  if (isExecutable(cached)) return cached;
  let failure = '';
  if (!opts.lookOnly) {
    try {
      // One build at a time per cache; the others wait and then find it in place.
      return await withFileLock(
        path.join(path.dirname(cached), '.build.lock'),
        async () => (isExecutable(cached) ? cached : build(cached, opts.env, progress)),
        { onWait: (holder) => progress(`Waiting for another build of tctl (${holder})…`) },
      );
    } catch (err) {
      failure = (err as Error).message;
    }
  }
  throw new TctlNotFoundError(
    [
      'tctl was not found. Provide it in one of these ways:',
      '  - set TCTL_PATH to the binary, or put `tctl` on PATH',
      `  - place it at ${cached}`,
      `  - with Go: in an empty folder, go mod init x && go get github.com/temporalio/tctl@${TCTL_VERSION} && go build -o ${cached} github.com/temporalio/tctl/cmd/tctl`,
      ...(failure ? [`What was tried: ${failure}`] : []),
    ].join('\n'),
  );
}
