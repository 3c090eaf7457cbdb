import type { Queryable } from './store';

/** Unique keys of the Mailgun tables that two racing attempts may hit (retried, not parked). */
export const MESSAGES_UNIQUE_KEYS = ['mailgun_events_pkey', 'mailgun_messages_pkey'] as const;

/** One Mailgun event as the store records it. */
export interface MailgunEventRow {
  eventId: string;
  messageId: string;
  event: string;
  severity?: string;
  reason?: string;
  recipient?: string;
  /** Provider timestamp. */
  occurredAt: Date;
}

/**
 * Records a Mailgun event and derives its message's state from the message's recorded events, in
 * the caller's transaction (after the ledger claimed the event, src/store/ledger.ts). An event
 * already recorded is replaced (a replay runs the fixed code again), and the message row is
 * recomputed from all its events, never incremented: re-applying an event can count nothing twice,
 * and the state is exactly what the recorded events say.
 *
 * The message row is locked first (an upsert), so two events of one message processed at the same
 * time recompute one after the other and the second sees the first's event.
 */
export async function recordMailgunEvent(q: Queryable, e: MailgunEventRow): Promise<void> {
  await q.query(
    `INSERT INTO mailgun_messages AS m (message_id, recipient, state, state_at)
     VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO UPDATE SET updated_at = now()`,
    [e.messageId, e.recipient ?? null, e.event, e.occurredAt],
  );
  await q.query(
    `INSERT INTO mailgun_events AS x (event_id, message_id, event, severity, reason, recipient, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (event_id) DO UPDATE SET message_id = EXCLUDED.message_id, event = EXCLUDED.event,
       severity = EXCLUDED.severity, reason = EXCLUDED.reason, recipient = EXCLUDED.recipient,
       occurred_at = EXCLUDED.occurred_at`,
    [
      e.eventId,
      e.messageId,
      e.event,
      e.severity ?? null,
      e.reason ?? null,
      e.recipient ?? null,
      e.occurredAt,
    ],
  );
  await recomputeMessage(q, e.messageId);
}

/**
 * Derives a message's row from its recorded events: the state (and severity) of the newest event by
 * provider time (ties: the later recorded), the first delivery, the counts of opens and clicks,
 * whether it was ever unsubscribed or complained about, and the first recipient named.
 */
export async function recomputeMessage(q: Queryable, messageId: string): Promise<void> {
  await q.query(
    `UPDATE mailgun_messages m SET
       recipient = COALESCE(a.recipient, m.recipient), state = a.state, state_at = a.state_at,
       severity = a.severity, delivered_at = a.delivered_at, opened_count = a.opened,
       clicked_count = a.clicked, unsubscribed = a.unsubscribed, complained = a.complained,
       updated_at = now()
     FROM (
       SELECT
         (array_agg(recipient ORDER BY recorded_at, event_id) FILTER (WHERE recipient IS NOT NULL))[1] AS recipient,
         (array_agg(event ORDER BY occurred_at DESC, recorded_at DESC, event_id DESC))[1] AS state,
         max(occurred_at) AS state_at,
         (array_agg(severity ORDER BY occurred_at DESC, recorded_at DESC, event_id DESC))[1] AS severity,
         min(occurred_at) FILTER (WHERE event = 'delivered') AS delivered_at,
         (count(*) FILTER (WHERE event = 'opened'))::int AS opened,
         (count(*) FILTER (WHERE event = 'clicked'))::int AS clicked,
         COALESCE(bool_or(event = 'unsubscribed'), false) AS unsubscribed,
         COALESCE(bool_or(event = 'complained'), false) AS complained
       FROM mailgun_events WHERE message_id = $1
       HAVING count(*) > 0) a
     WHERE m.message_id = $1`,
    [messageId],
  );
}

/** A message and its events, as GET /messages/:messageId shows them. */
export interface MessageView {
  messageId: string;
  recipient: string | null;
  state: string;
  stateAt: string;
  severity: string | null;
  deliveredAt: string | null;
  openedCount: number;
  clickedCount: number;
  unsubscribed: boolean;
  complained: boolean;
  events: { id: string; event: string; severity: string | null; reason: string | null; occurredAt: string }[];
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * The message with its events in provider-time order, or undefined. One statement, so the counters
 * and the event list come from one snapshot: with two statements a worker committing between them
 * showed a state that never existed (an "opened" event listed, `openedCount` still 0).
 */
export async function getMessage(q: Queryable, messageId: string): Promise<MessageView | undefined> {
  const { rows } = await q.query(
    `SELECT m.*,
       COALESCE((SELECT json_agg(json_build_object(
                   'id', e.event_id, 'event', e.event, 'severity', e.severity, 'reason', e.reason,
                   'occurredAt', e.occurred_at) ORDER BY e.occurred_at, e.recorded_at)
                 FROM mailgun_events e WHERE e.message_id = m.message_id), '[]'::json) AS events
     FROM mailgun_messages m WHERE m.message_id = $1`,
    [messageId],
  );
  const m = rows[0];
  if (!m) return undefined;
  const events = m.events as {
    id: string;
    event: string;
    severity: string | null;
    reason: string | null;
    occurredAt: string;
  }[];
  return {
    messageId: m.message_id,
    recipient: m.recipient,
    state: m.state,
    stateAt: iso(m.state_at)!,
    severity: m.severity,
    deliveredAt: iso(m.delivered_at),
    openedCount: m.opened_count,
    clickedCount: m.clicked_count,
    unsubscribed: m.unsubscribed,
    complained: m.complained,
    // json_build_object renders timestamptz as ISO 8601 with an offset; normalise to the API's form.
    events: events.map((e) => ({ ...e, occurredAt: new Date(e.occurredAt).toISOString() })),
  };
}
