import type { Queryable } from './store';

/** Unique keys of the ledger that two racing attempts may hit (retried, not parked). */
export const LEDGER_UNIQUE_KEYS = ['processed_events_pkey'] as const;

/**
 * Marks `id` processed in the exactly-once ledger (`processed_events`), in the caller's
 * transaction; false if it already was. Every source's processing runs this first, in the same
 * transaction as its own writes, so an event's effect is applied once whatever the retries.
 */
export async function markProcessed(
  q: Queryable,
  id: string,
  source: string,
  eventType: string,
): Promise<boolean> {
  const res = await q.query(
    `INSERT INTO processed_events (id, source, event_type) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
    [id, source, eventType],
  );
  return (res.rowCount ?? 0) > 0;
}
