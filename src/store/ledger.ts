import type { Queryable } from './store';

/** Unique keys of the ledger that two racing attempts may hit (retried, not parked). */
export const LEDGER_UNIQUE_KEYS = ['processed_events_pkey'] as const;

/**
 * Claims the effect of revision `revision` of event `id` in the exactly-once ledger
 * (`processed_events`), in the caller's transaction: true when the caller must now apply the
 * effect (the event is new, or this is a replay with a higher revision than the one applied),
 * false when this revision or a newer one is already applied (a redelivery, a retried attempt, a
 * stale replay). Every source's processing runs this first, in the same transaction as its own
 * writes, so each revision's effect is applied once whatever the retries (see Source.process).
 *
 * The same statement marks the event's archive row (`event_archive`) processed, so the archive
 * follows the ledger at no extra round trip.
 */
export async function markProcessed(
  q: Queryable,
  id: string,
  source: string,
  eventType: string,
  revision = 1,
): Promise<boolean> {
  const res = await q.query<{ n: number }>(
    `WITH l AS (
       INSERT INTO processed_events AS p (id, source, event_type, revision) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET revision = EXCLUDED.revision, processed_at = now()
         WHERE p.revision < EXCLUDED.revision
       RETURNING id),
     a AS (
       UPDATE event_archive SET status = 'processed', processed_at = now(), last_error = NULL,
         replayed_at = CASE WHEN $4::int > 1 THEN now() ELSE replayed_at END
       WHERE id = $1 AND revision <= $4 AND EXISTS (SELECT 1 FROM l))
     SELECT count(*)::int AS n FROM l`,
    [id, source, eventType, revision],
  );
  return (res.rows[0]?.n ?? 0) > 0;
}
