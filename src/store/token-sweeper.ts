import type { Logger } from '../platform/logger';
import type { Source } from '../sources/types';
import { sweepArchive } from './event-archive';
import type { Store } from './store';

/** How often `intake api` and `intake dev` delete expired request bindings (e.g. signature tokens). */
export const TOKEN_SWEEP_INTERVAL_MS = 60_000;

/**
 * Runs every source's `sweep` (deleting its expired bindings, such as signature tokens bound to an
 * event id; expired ones are already ignored when binding, this only keeps the tables small) and
 * deletes archived events past INTAKE_ARCHIVE_RETENTION_DAYS (src/store/event-archive.ts), every
 * `intervalMs`. Every API replica may run one: the DELETEs are idempotent. The timer is unref'd, so
 * it never keeps the process alive. Returns the function that stops it.
 */
export function startTokenSweeper(
  store: Store,
  intervalMs: number,
  logger: Logger,
  sources: readonly Pick<Source, 'name' | 'sweep'>[],
): () => void {
  const sweepers = sources.filter((s) => s.sweep);
  let running = false;
  const sweepOne = async (source: (typeof sweepers)[number]) => {
    try {
      const swept = (await source.sweep?.(store)) ?? 0;
      if (swept > 0) logger.debug({ source: source.name, swept }, 'expired token bindings removed');
    } catch (err) {
      logger.warn({ source: source.name, err: { name: (err as Error)?.name } }, 'token sweep failed');
    }
  };
  const archive = async () => {
    try {
      const swept = await sweepArchive(store);
      if (swept > 0) logger.debug({ swept }, 'expired archived events removed');
    } catch (err) {
      logger.warn({ err: { name: (err as Error)?.name } }, 'archive sweep failed');
    }
  };
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void Promise.all([...sweepers.map(sweepOne), archive()]).finally(() => {
      running = false;
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
