import type { Logger } from '../logger';
import type { Store } from './store';

/** How often `intake api` and `intake dev` delete expired Mailgun token bindings. */
export const TOKEN_SWEEP_INTERVAL_MS = 60_000;

/**
 * Deletes expired Mailgun token bindings every `intervalMs` (expired ones are already ignored by
 * Store.bindMailgunToken; this only keeps the table small). Every API replica may run one: the
 * DELETE is idempotent. The timer is unref'd, so it never keeps the process alive. Returns the
 * function that stops it.
 */
export function startTokenSweeper(store: Store, intervalMs: number, logger: Logger): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    store
      .sweepMailgunTokens()
      .then((swept) => {
        if (swept > 0) logger.debug({ swept }, 'expired mailgun token bindings removed');
      })
      .catch((err: unknown) => {
        logger.warn({ err: { name: (err as Error)?.name } }, 'mailgun token sweep failed');
      })
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
