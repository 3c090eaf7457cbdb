import type { PayloadCodec } from '@temporalio/common';
import type { ProcessEventInput } from '../../workflows/types';
import { seal, unseal } from './sealed';
import type { Queryable, Store } from './store';

/** Why an event went to the spool instead of straight into Temporal. */
export type SpoolReason = 'unavailable' | 'timeout' | 'overloaded' | 'backlog';

/** Everything the relay needs to make the start the API could not make. */
export interface SpooledStart {
  /** `<source>:<eventId>`. */
  workflowId: string;
  input: ProcessEventInput;
  /** Values of IntakeSource, IntakeEventType, IntakeEntity (IntakeStatus starts as `queued`). */
  searchAttributes: { source: string; eventType: string; entity: string };
}

/** What {@link StartSpool.addMany} did with one start. */
export type SpoolAddOutcome = 'added' | 'duplicate' | 'full';

/** The advisory lock that makes the spool's depth check atomic with its insert (any fixed key). */
const SPOOL_LOCK_KEY = 0x696e74616b65; // "intake"

/** A dead letter of the spool, as operators list it. */
export interface DeadStart {
  workflowId: string;
  source: string;
  spooledAt: Date;
  deadAt: Date;
  lastError: string;
}

/** A spooled start leased to one relay. */
export interface ClaimedStart {
  seq: string;
  start: SpooledStart;
}

/** Depth and age of the spool, for /metrics, /readyz and the depth limit. */
export interface SpoolStats {
  /** Rows waiting to be relayed (dead letters not counted). */
  depth: number;
  /** Rows waiting to be relayed; the same as depth (dead letters never hold new events back). */
  waiting: number;
  /** Dead letters: starts Temporal refused as permanently invalid, kept for an operator. */
  dead: number;
  /** Seconds since the oldest row was spooled; 0 when empty. */
  oldestAgeS: number;
}

/**
 * The `start_spool` table: the way into Temporal while Temporal cannot persist a start. Rows are
 * sealed (see ./sealed.ts) so payloads are encrypted at rest when encryption is on. Relays lease
 * rows (`FOR UPDATE SKIP LOCKED`, then a lease time), so any number of API processes relay one
 * spool without a leader, and a relay killed mid-start leaves its rows to the next lease.
 */
export class StartSpool {
  constructor(
    private readonly store: Store,
    private readonly codec?: PayloadCodec,
  ) {}

  /**
   * Adds many starts in the caller's transaction, in the order given (their `seq` follows it).
   * Returns, per start: `added`; `duplicate` when its workflow id was already spooled or appears
   * earlier in `starts` (a redelivery within the same batch); `full` when adding it would take the
   * spool past `maxDepth` waiting rows (dead letters not counted).
   *
   * The depth check is atomic with the insert: a transaction-scoped advisory lock serialises the
   * writers of every process on this store from the count to their commit, and the count is a
   * statement of its own after the lock is held, so it sees every row committed before. Without
   * the lock, writers counting at the same moment each saw room for their own rows (63 rows under
   * a limit of 50). The lock is held from the insert to the commit only; group commit keeps that
   * to one lock per batch.
   */
  async addMany(
    q: Queryable,
    starts: { start: SpooledStart; reason: SpoolReason }[],
    opts: { maxDepth?: number } = {},
  ): Promise<SpoolAddOutcome[]> {
    if (starts.length === 0) return [];
    const ids = starts.map((s) => s.start.workflowId);
    await q.query(`SELECT pg_advisory_xact_lock(${SPOOL_LOCK_KEY})`);
    const { rows: present } = await q.query<{ workflow_id: string; depth: number }>(
      `SELECT s.workflow_id, d.depth FROM
         (SELECT count(*)::int AS depth FROM start_spool WHERE dead_at IS NULL) d
         LEFT JOIN start_spool s ON s.workflow_id = ANY($1::text[])`,
      [ids],
    );
    const seen = new Set(present.flatMap((r) => (r.workflow_id === null ? [] : [r.workflow_id])));
    let room = opts.maxDepth === undefined ? Infinity : opts.maxDepth - (present[0]?.depth ?? 0);
    const outcomes: SpoolAddOutcome[] = starts.map((s) => {
      const id = s.start.workflowId;
      if (seen.has(id)) return 'duplicate';
      if (room <= 0) return 'full';
      seen.add(id);
      room--;
      return 'added';
    });
    const chosen = starts.filter((_, i) => outcomes[i] === 'added');
    if (chosen.length === 0) return outcomes;
    const data = await Promise.all(chosen.map((s) => seal(s.start, this.codec)));
    await q.query(
      `INSERT INTO start_spool (workflow_id, source, reason, data, encrypted)
       SELECT w, s, r, d, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])
         WITH ORDINALITY AS t(w, s, r, d, n)
       ORDER BY n`,
      [
        chosen.map((s) => s.start.workflowId),
        chosen.map((s) => s.start.input.source),
        chosen.map((s) => s.reason),
        data,
        !!this.codec,
      ],
    );
    return outcomes;
  }

  /** Leases up to `limit` unleased (or lease-expired) rows, oldest first, for `leaseMs`. */
  async claim(limit: number, leaseMs: number): Promise<ClaimedStart[]> {
    const { rows } = await this.store.query<{ seq: string; data: Buffer }>(
      `UPDATE start_spool SET claimed_until = now() + make_interval(secs => $2), attempts = attempts + 1
       WHERE seq IN (
         SELECT seq FROM start_spool
         WHERE dead_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
         ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING seq, data`,
      [limit, leaseMs / 1000],
    );
    rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    return Promise.all(
      rows.map(async (r) => ({ seq: r.seq, start: await unseal<SpooledStart>(r.data, this.codec) })),
    );
  }

  /** Removes relayed rows (started, or found already started). */
  async done(seqs: string[]): Promise<void> {
    if (seqs.length) await this.store.query('DELETE FROM start_spool WHERE seq = ANY($1::bigint[])', [seqs]);
  }

  /** Gives rows back before their lease ends, to be tried again after `delayMs`. */
  async release(seqs: string[], delayMs = 0): Promise<void> {
    if (!seqs.length) return;
    await this.store.query(
      `UPDATE start_spool SET claimed_until = now() + make_interval(secs => $2) WHERE seq = ANY($1::bigint[])`,
      [seqs, delayMs / 1000],
    );
  }

  /**
   * Makes rows dead letters: Temporal refused their start as permanently invalid. They are never
   * claimed again and do not count as depth (new events do not queue behind them); they stay, with
   * `error` (value-free), for an operator to see (`intake events list --status dead`).
   */
  async bury(seqs: string[], error: string): Promise<void> {
    if (!seqs.length) return;
    await this.store.query(
      `UPDATE start_spool SET dead_at = now(), last_error = $2, claimed_until = NULL
       WHERE seq = ANY($1::bigint[])`,
      [seqs, error],
    );
  }

  /** Deletes the dead letter `workflowId` for good; false when there is no such dead letter. */
  async dropDead(workflowId: string): Promise<boolean> {
    const { rowCount } = await this.store.query(
      'DELETE FROM start_spool WHERE workflow_id = $1 AND dead_at IS NOT NULL',
      [workflowId],
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * Puts the dead letter `workflowId` back in line for the relay (after the cause was fixed, e.g. a
   * server with higher limits); false when there is no such dead letter.
   */
  async requeueDead(workflowId: string): Promise<boolean> {
    const { rowCount } = await this.store.query(
      `UPDATE start_spool SET dead_at = NULL, last_error = NULL, claimed_until = NULL, attempts = 0
       WHERE workflow_id = $1 AND dead_at IS NOT NULL`,
      [workflowId],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Dead letters, newest first. */
  async listDead(filter: { source?: string; limit: number }): Promise<DeadStart[]> {
    const { rows } = await this.store.query<{
      workflow_id: string;
      source: string;
      spooled_at: Date;
      dead_at: Date;
      last_error: string | null;
    }>(
      `SELECT workflow_id, source, spooled_at, dead_at, last_error FROM start_spool
       WHERE dead_at IS NOT NULL AND ($1::text IS NULL OR source = $1) ORDER BY dead_at DESC LIMIT $2`,
      [filter.source ?? null, filter.limit],
    );
    return rows.map((r) => ({
      workflowId: r.workflow_id,
      source: r.source,
      spooledAt: r.spooled_at,
      deadAt: r.dead_at,
      lastError: r.last_error ?? 'Temporal refused the start',
    }));
  }

  /** The spooled start of `workflowId` with when it was spooled, if it is waiting. */
  async find(
    workflowId: string,
  ): Promise<{ start: SpooledStart; spooledAt: Date; dead?: { at: Date; error: string } } | undefined> {
    const { rows } = await this.store.query<{
      data: Buffer;
      spooled_at: Date;
      dead_at: Date | null;
      last_error: string | null;
    }>('SELECT data, spooled_at, dead_at, last_error FROM start_spool WHERE workflow_id = $1', [workflowId]);
    const row = rows[0];
    if (!row) return undefined;
    const start = await unseal<SpooledStart>(row.data, this.codec);
    const dead = row.dead_at
      ? { at: row.dead_at, error: row.last_error ?? 'Temporal refused the start' }
      : undefined;
    return { start, spooledAt: row.spooled_at, ...(dead ? { dead } : {}) };
  }

  /** How many rows wait and how old the oldest is. */
  async stats(): Promise<SpoolStats> {
    const { rows } = await this.store.query<{ depth: number; dead: number; age: number | null }>(
      `SELECT (count(*) FILTER (WHERE dead_at IS NULL))::int AS depth,
         (count(*) FILTER (WHERE dead_at IS NOT NULL))::int AS dead,
         extract(epoch FROM now() - min(spooled_at) FILTER (WHERE dead_at IS NULL))::float8 AS age
       FROM start_spool`,
    );
    const r = rows[0];
    const depth = r?.depth ?? 0;
    return { depth, waiting: depth, dead: r?.dead ?? 0, oldestAgeS: Math.max(0, r?.age ?? 0) };
  }
}
