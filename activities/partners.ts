import { PermanentProcessingError } from '../src/errors';
import { partnerWebhookSchema } from '../src/sources/partners';
import { applyCustomerWrite } from '../src/store/customers-repo';
import { markProcessed } from '../src/store/ledger';
import type { Store } from '../src/store/store';
import type { HandlerInput } from '../workflows/types';

/**
 * Partner customer processing: the customer row is upserted or tombstoned with last-write-wins by
 * `data.updatedAt` (see applyCustomerWrite for ties), in one transaction with the exactly-once ledger.
 * An event older than the stored state is still marked processed: it lost, it did not fail. A
 * replayed event replaces its own earlier write when it is still the winner, and loses to a newer
 * update as it did the first time (last-write-wins holds across replays).
 */
export function processPartners(store: Store) {
  return async (input: HandlerInput): Promise<{ applied: boolean }> => {
    const parsed = partnerWebhookSchema.safeParse(input.payload);
    if (!parsed.success) throw new PermanentProcessingError('payload no longer matches the partner schema');
    const partner = input.params.partner;
    if (!partner) throw new PermanentProcessingError('event has no partner');
    const event = parsed.data;
    const deleted = event.type === 'customer.deleted';
    // Store data errors (a value PostgreSQL cannot hold) become permanent in activities/run-handler.ts.
    return store.tx(async (q) => {
      const claimed = await markProcessed(q, input.id, input.source, input.eventType, input.revision);
      if (!claimed) return { applied: false };
      await applyCustomerWrite(q, {
        partner,
        customerId: event.data.id,
        data: deleted ? null : event.data,
        deleted,
        updatedAt: event.data.updatedAt,
        eventId: input.id,
      });
      return { applied: true };
    });
  };
}
