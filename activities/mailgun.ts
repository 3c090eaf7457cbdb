import { mailgunSource } from '../src/sources/mailgun';
import { markProcessed } from '../src/store/ledger';
import { recordMailgunEvent } from '../src/store/messages-repo';
import type { Store } from '../src/store/store';
import { PermanentProcessingError } from '../src/errors';
import type { HandlerInput } from '../workflows/types';

/**
 * Mailgun processing, in one transaction with the exactly-once ledger: the event is recorded (a
 * replay replaces its row) and its message's state is derived again from the message's recorded
 * events, so a replayed event counts once and a second replay changes nothing.
 */
export function processMailgun(store: Store) {
  return async (input: HandlerInput): Promise<{ applied: boolean }> => {
    // The source's schema, the one the API checked: a schema change applies to both at once.
    const parsed = mailgunSource.schema.safeParse(input.payload);
    if (!parsed.success) throw new PermanentProcessingError('payload no longer matches the Mailgun schema');
    const data = parsed.data['event-data'];
    return store.tx(async (q) => {
      const claimed = await markProcessed(q, input.id, input.source, input.eventType, input.revision);
      if (!claimed) return { applied: false };
      await recordMailgunEvent(q, {
        eventId: data.id,
        messageId: data.message.headers['message-id'],
        event: data.event,
        severity: data.severity,
        reason: data.reason,
        recipient: data.recipient,
        occurredAt: new Date(Math.round(data.timestamp * 1000)),
      });
      return { applied: true };
    });
  };
}
