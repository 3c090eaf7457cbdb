import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Options of {@link withFileLock}. */
export interface FileLockOptions {
  /** Called once when another process holds the lock, with what it wrote (pid, since when). */
  onWait?: (holder: string) => void;
  /** How often to look again while waiting. Default 1000 ms. */
  pollMs?: number;
  /** Give up waiting after this long (throws). Default: wait as long as the holder lives. */
  timeoutMs?: number;
  /** Stop waiting when aborted (throws). */
  signal?: AbortSignal;
}

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The holder's pid and host as written in the lock file, or undefined if unreadable. */
function readHolder(file: string): { pid: number; host: string; text: string } | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const m = /^pid (\d+) host (\S+)/.exec(text);
    return m
      ? { pid: Number(m[1]), host: m[2]!, text: text.trim() }
      : { pid: 0, host: '', text: text.trim() };
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` while holding a cross-process lock: the file `lockFile`, created exclusively (O_EXCL)
 * with the holder's pid. Others wait until it is gone. A lock whose holder died (a killed build) is
 * taken over: its pid no longer runs on this host. Used around the Go builds of the temporal CLI,
 * tctl and the bench's server, so parallel first starts (several terminals, a test run) build once
 * and the others reuse the result.
 *
 * Hand-written rather than a lockfile package: a pid file fits a per-user cache on one machine, it is
 * held for minutes (no heartbeat to tune), and it keeps the CLI free of another dependency. The
 * builds also write to unique temporary files and rename, so a rare double holder (two waiters
 * taking over the same dead lock at once) costs a second build, never a torn binary.
 */
export async function withFileLock<T>(
  lockFile: string,
  fn: () => Promise<T>,
  opts: FileLockOptions = {},
): Promise<T> {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  const started = Date.now();
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(
        lockFile,
        `pid ${process.pid} host ${os.hostname()} since ${new Date().toISOString()}\n`,
        {
          flag: 'wx',
        },
      );
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readHolder(lockFile);
    if (holder && holder.pid > 0 && holder.host === os.hostname() && !alive(holder.pid)) {
      fs.rmSync(lockFile, { force: true }); // its holder died: take it over
      continue;
    }
    if (holder && !told) {
      told = true;
      opts.onWait?.(holder.text);
    }
    if (opts.signal?.aborted) throw new Error(`stopped waiting for ${lockFile}`);
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs)
      throw new Error(
        `timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${lockFile} (${holder?.text ?? '?'})`,
      );
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}
