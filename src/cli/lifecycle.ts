/** Options of {@link onShutdown}. */
export interface ShutdownOptions {
  /**
   * Also stop when this process is orphaned (its parent died, e.g. `npm` killed with SIGKILL):
   * checked every second. For `intake dev` and `intake server`, which hold a Temporal server.
   */
  whenOrphaned?: boolean;
}

/** A second signal this soon after the first is the same stop request relayed (npm, tsx, a group). */
const RELAYED_WITHIN_MS = 1500;

/**
 * Runs `stop` once on the first SIGINT/SIGTERM (or SIGHUP); a second signal exits at once.
 * Ctrl-C under `npm start` delivers SIGINT twice within milliseconds (the terminal's to the whole
 * group, then npm's relayed copy): a second signal that close to the first is the same request and
 * is ignored, so the stop stays orderly. Whatever way the process ends, the dev server's supervisor
 * sees it and stops the server (see src/dev/dev-server.ts).
 */
export function onShutdown(stop: (signal: string) => Promise<void>, opts: ShutdownOptions = {}): void {
  let stoppingAt = 0;
  const handler = (signal: string) => {
    if (stoppingAt) {
      if (Date.now() - stoppingAt < RELAYED_WITHIN_MS) return;
      process.exit(130);
    }
    stoppingAt = Date.now();
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
  if (opts.whenOrphaned) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) handler('parent exited');
    }, 1000).unref();
  }
}
