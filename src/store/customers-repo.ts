import type { Queryable } from './store';

/** Unique keys of the customer table that two racing attempts may hit (retried, not parked). */
export const CUSTOMERS_UNIQUE_KEYS = ['customers_pkey'] as const;

/** One customer write from a partner event: an upsert or a tombstone. */
export interface CustomerWrite {
  partner: string;
  customerId: string;
  /** The customer's fields as the partner sent them; null for a delete (tombstone). */
  data: Record<string, unknown> | null;
  deleted: boolean;
  /** The partner's `data.updatedAt` (ISO 8601 with offset): the last-write-wins clock, kept to microseconds. */
  updatedAt: string;
  /** Workflow id of the event, `partners:<partner>:<webhook-id>`; breaks updatedAt ties. */
  eventId: string;
}

/**
 * Applies a customer write with last-write-wins, in the caller's transaction. Writes are ordered by
 * (updatedAt, deleted, eventId): a newer updatedAt wins; on a tie a delete beats an upsert, and
 * between two events of the same kind the larger event id (byte order) wins. The order is total, so replicas of
 * the same events converge whatever their arrival order, and a late, older upsert never resurrects
 * a newer tombstone. The same event written again (a replay) replaces its own earlier write: equal
 * keys mean the same event. Returns true if the row was written, false if the write was older (ignored).
 */
export async function applyCustomerWrite(q: Queryable, w: CustomerWrite): Promise<boolean> {
  const res = await q.query(
    `INSERT INTO customers AS c (partner, customer_id, data, deleted, updated_at, last_event_id)
     VALUES ($1, $2, $3::jsonb, $4, $5::timestamptz, $6)
     ON CONFLICT (partner, customer_id) DO UPDATE SET
       data = EXCLUDED.data,
       deleted = EXCLUDED.deleted,
       updated_at = EXCLUDED.updated_at,
       last_event_id = EXCLUDED.last_event_id,
       written_at = now()
     WHERE (c.updated_at, c.deleted, c.last_event_id COLLATE "C")
         <= (EXCLUDED.updated_at, EXCLUDED.deleted, EXCLUDED.last_event_id COLLATE "C")`,
    [
      w.partner,
      w.customerId,
      w.data === null ? null : JSON.stringify(w.data),
      w.deleted,
      w.updatedAt,
      w.eventId,
    ],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * A customer as GET /customers/:partner/:id shows it. A deleted customer is a tombstone: `deleted`
 * true and `data` null, kept so that older events cannot bring it back.
 */
export interface CustomerView {
  partner: string;
  id: string;
  deleted: boolean;
  /** The winning event's `data.updatedAt`, ISO 8601 UTC. */
  updatedAt: string;
  data: Record<string, unknown> | null;
}

/** The customer's current state (tombstones included), or undefined if no event ever named it. */
export async function getCustomer(
  q: Queryable,
  partner: string,
  id: string,
): Promise<CustomerView | undefined> {
  // Stored ids never hold NUL (the schema refuses control characters); PostgreSQL text cannot either.
  if (partner.includes('\0') || id.includes('\0')) return undefined;
  const { rows } = await q.query<{
    data: Record<string, unknown> | null;
    deleted: boolean;
    updated_at: Date;
  }>(`SELECT data, deleted, updated_at FROM customers WHERE partner = $1 AND customer_id = $2`, [
    partner,
    id,
  ]);
  const row = rows[0];
  if (!row) return undefined;
  return { partner, id, deleted: row.deleted, updatedAt: row.updated_at.toISOString(), data: row.data };
}
