import { settleArchived } from '../src/store/event-archive';
import type { Queryable } from '../src/store/store';

/** What processEvent tells the archive when an event parks or is discarded. */
export interface SettleArchivedInput {
  /** The event's id, `<source>:<eventId>`. */
  id: string;
  status: 'parked' | 'discarded';
  lastError: string | null;
  /** The run's revision (1 + replays); an older run never overwrites a newer one's outcome. */
  revision: number;
}

/**
 * The archive's side of processEvent: a processed event is marked in the handler's own transaction
 * (src/store/ledger.ts); a parked or discarded one here, so the archive answers GET /events/:id
 * and `--status discarded` replays after Temporal deleted the workflow.
 */
export function createArchiveActivities(store: Queryable) {
  return {
    async settleArchivedEvent(input: SettleArchivedInput): Promise<void> {
      await settleArchived(store, input.id, input.status, input.lastError, input.revision);
    },
  };
}
