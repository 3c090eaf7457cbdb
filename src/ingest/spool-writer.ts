import pg from 'pg';
import { UnavailableError } from '../errors';
import { insertArchiveRows, settledArchived, type ArchiveRow } from '../store/event-archive';
import type { SpoolAddOutcome, SpooledStart, SpoolReason, StartSpool } from '../store/start-spool';
import type { Queryable, Store } from '../store/store';

/**
 * What must commit together with a spooled row (the source's token binding). Entries of one
 * transaction with the same `bindAll` are bound with one call: per item, undefined when bound, or
 * the error that refuses this event only. An error `bindAll` throws fails the transaction.
 */
export interface SpoolBinding<I = unknown> {
  bindAll: (q: Queryable, items: I[]) => Promise<(Error | undefined)[]>;
  item: I;
}

/** One event on its way into the start spool. */
export interface SpoolEntry {
  start: SpooledStart;
  reason: SpoolReason;
  binding?: SpoolBinding;
  /** The event's archive row, committed with its spool row (src/store/event-archive.ts). */
  archived?: ArchiveRow;
}

/** Options of {@link SpoolWriter}. */
export interface SpoolWriterOptions {
  /** Most events written by one transaction. Default 500. */
  maxBatch?: number;
  /** Transactions in flight at once (each holds one pooled connection). Default 2. */
  concurrency?: number;
  /**
   * Most rows the spool may hold waiting (INTAKE_SPOOL_MAX_DEPTH), checked in the transaction that
   * inserts them (see StartSpool.addMany); past it an event is refused with a 503. Default: no limit.
   */
  maxDepth?: number;
}

interface Waiting {
  entry: SpoolEntry;
  resolve: (added: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the start spool. In a burst every event goes to the spool, and one transaction
 * (one WAL flush) per event made the store's commit rate the ceiling of the acknowledgement rate.
 * Here the events that arrive while a transaction is committing wait for the next one, which
 * writes them all: their bindings, then their rows in one statement, their archive rows in another,
 * then one commit. Each caller
 * is answered only after the transaction holding its event has committed, so an acknowledged
 * event is on disk exactly as before; nothing is acknowledged from memory.
 *
 * If the transaction fails on a statement (one event's bad row, a deadlock), each event of the
 * batch is written again alone, so only the event at fault fails. If the store is unreachable the
 * whole batch fails (the callers answer 503).
 */
export class SpoolWriter {
  private readonly queue: Waiting[] = [];
  private active = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly concurrency: number;
  private readonly maxDepth?: number;

  constructor(
    private readonly store: Pick<Store, 'tx'>,
    private readonly spool: Pick<StartSpool, 'addMany'>,
    opts: SpoolWriterOptions = {},
  ) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 500);
    this.concurrency = Math.max(1, opts.concurrency ?? 2);
    this.maxDepth = opts.maxDepth;
  }

  /**
   * Writes one event to the spool; resolves once it has committed: true if added, false if its
   * workflow id was already spooled, or is archived and settled (a redelivery). Rejects with the
   * bind's refusal, an UnavailableError when the spool is at its depth limit, or the store's error;
   * then nothing of this event but its (idempotent) token binding was written.
   */
  add(entry: SpoolEntry): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (this.scheduled) return;
      // The requests that arrive in this turn of the event loop join the same batch.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    });
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.active++;
      void this.write(batch).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private async write(batch: Waiting[]): Promise<void> {
    const refused = new Map<Waiting, unknown>();
    let kept: Waiting[];
    let added: SpoolAddOutcome[];
    try {
      [kept, added] = await this.store.tx(async (q) => {
        const bound = new Set<Waiting>();
        const groups = new Map<SpoolBinding['bindAll'], Waiting[]>();
        for (const w of batch) {
          const b = w.entry.binding;
          if (!b) bound.add(w);
          else groups.set(b.bindAll, [...(groups.get(b.bindAll) ?? []), w]);
        }
        for (const [bindAll, group] of groups) {
          const outcomes = await bindAll(
            q,
            group.map((w) => w.entry.binding!.item),
          );
          group.forEach((w, i) => {
            const refusal = outcomes[i];
            // A refusal is an answer to that event; its statement succeeded, the batch goes on.
            if (refusal) refused.set(w, refusal);
            else bound.add(w);
          });
        }
        // A redelivery of an archived event that already ran is a duplicate: spooled, the relay
        // would start it again once Temporal's retention had removed its workflow.
        const settled = await settledArchived(
          q,
          batch.filter((w) => bound.has(w) && w.entry.archived).map((w) => w.entry.start.workflowId),
        );
        // In arrival order: the spool's seq follows it.
        const ok = batch.filter((w) => bound.has(w) && !settled.has(w.entry.start.workflowId));
        const rows = await this.spool.addMany(
          q,
          ok.map((w) => ({ start: w.entry.start, reason: w.entry.reason })),
          { maxDepth: this.maxDepth },
        );
        // An event the full spool refused is not archived: it was not acknowledged.
        await insertArchiveRows(
          q,
          ok.flatMap((w, i) => (w.entry.archived && rows[i] !== 'full' ? [w.entry.archived] : [])),
        );
        const dup = batch.filter((w) => bound.has(w) && settled.has(w.entry.start.workflowId));
        return [
          [...ok, ...dup],
          [...rows, ...dup.map((): SpoolAddOutcome => 'duplicate')],
        ] as const;
      });
    } catch (err) {
      if (batch.length > 1 && err instanceof pg.DatabaseError) {
        await Promise.all(batch.map((w) => this.write([w])));
      } else {
        for (const w of batch) w.reject(err);
      }
      return;
    }
    for (const [w, err] of refused) w.reject(err);
    kept.forEach((w, i) => {
      const outcome = added[i];
      if (outcome === 'full') w.reject(new UnavailableError('the start spool is full', 30));
      else w.resolve(outcome === 'added');
    });
  }
}
