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
 * Records a Mailgun event once and folds it into its message's state, in the caller's transaction.
 * Returns false when the event was already recorded (nothing changes).
 */
export async function recordMailgunEvent(q: Queryable, e: MailgunEventRow): Promise<boolean> {
  const inserted = await q.query(
    `INSERT INTO mailgun_events (event_id, message_id, event, severity, reason, recipient, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING`,
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
  if (inserted.rowCount === 0) return false;
  // The state follows the newest event by provider time, so late deliveries never roll it back.
  await q.query(
    `INSERT INTO mailgun_messages AS m (message_id, recipient, state, state_at, severity, delivered_at,
        opened_count, clicked_count, unsubscribed, complained)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $3 = 'delivered' THEN $4::timestamptz END,
        CASE WHEN $3 = 'opened' THEN 1 ELSE 0 END, CASE WHEN $3 = 'clicked' THEN 1 ELSE 0 END,
        $3 = 'unsubscribed', $3 = 'complained')
     ON CONFLICT (message_id) DO UPDATE SET
       recipient = COALESCE(m.recipient, EXCLUDED.recipient),
       state = CASE WHEN EXCLUDED.state_at >= m.state_at THEN EXCLUDED.state ELSE m.state END,
       severity = CASE WHEN EXCLUDED.state_at >= m.state_at THEN EXCLUDED.severity ELSE m.severity END,
       state_at = GREATEST(m.state_at, EXCLUDED.state_at),
       delivered_at = COALESCE(m.delivered_at, EXCLUDED.delivered_at),
       opened_count = m.opened_count + EXCLUDED.opened_count,
       clicked_count = m.clicked_count + EXCLUDED.clicked_count,
       unsubscribed = m.unsubscribed OR EXCLUDED.unsubscribed,
       complained = m.complained OR EXCLUDED.complained,
       updated_at = now()`,
    [e.messageId, e.recipient ?? null, e.event, e.occurredAt, e.severity ?? null],
  );
  return true;
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
