import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type pg from 'pg';
import { sleep } from './children';
import type { LoadStats } from './chaos-load';

/** How the backlog drained after the load stopped. */
export interface DrainResult {
  /** Seconds from the load's stop until the backlog was empty, or until it stalled. */
  drainS: number;
  /** True when every acknowledged event has its processed_events row. */
  complete: boolean;
  /** True when the backlog made no progress for the stall window (the run then fails). */
  stalled: boolean;
  /** Acknowledged events without a processed_events row when the load stopped, and at the end. */
  backlogAtStop: number;
  backlogAtEnd: number;
  /** (backlogAtStop - backlogAtEnd) / drainS: how fast the backlog went down. */
  drainPerS: number;
  /** processed_at of every processed event (ms since epoch), ascending. */
  processedAt: number[];
}

/** Acknowledged ids without a processed_events row. */
async function unprocessed(pool: pg.Pool, want: Set<string>): Promise<number> {
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM processed_events');
  let have = 0;
  for (const r of rows) if (want.has(r.id)) have++;
  return want.size - have;
}

/**
 * Waits for the backlog (acknowledged events without a processed_events row) to drain, as long
 * as it keeps shrinking: there is no fixed deadline, only a stall window. A backlog that does not
 * go down for `stallMs` ends the wait (`stalled`); the check then tells pending from lost.
 */
export async function waitForDrain(
  pool: pg.Pool,
  acked: string[],
  log: (l: string) => void,
  stallMs = 60_000,
): Promise<DrainResult> {
  const t0 = Date.now();
  const want = new Set(acked);
  let backlogAtStop: number | undefined;
  let best = Infinity;
  let lastProgress = t0;
  let lastLog = t0;
  let left = Infinity;
  let stalled = false;
  for (;;) {
    try {
      left = await unprocessed(pool, want);
      backlogAtStop ??= left;
      if (left < best) {
        best = left;
        lastProgress = Date.now();
      }
    } catch {
      // PostgreSQL may still be coming back from its restart: no answer is no progress.
    }
    if (left === 0) break;
    if (Date.now() - lastProgress >= stallMs) {
      stalled = true;
      log(`  drain: no progress for ${stallMs / 1000} s with ${left} acknowledged events unprocessed`);
      break;
    }
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      log(`  drain: ${left}/${want.size} acknowledged events still to process`);
    }
    await sleep(500);
  }
  const drainS = (Date.now() - t0) / 1000;
  const { rows } = await pool.query<{ at: Date }>(
    'SELECT processed_at AS at FROM processed_events ORDER BY 1',
  );
  const atStop = backlogAtStop ?? left;
  return {
    drainS,
    complete: left === 0,
    stalled,
    backlogAtStop: atStop,
    backlogAtEnd: left,
    drainPerS: drainS > 0 ? (atStop - left) / drainS : 0,
    processedAt: rows.map((r) => r.at.getTime()),
  };
}

/** The verdict: every acknowledged event classified, and the per-message counters checked. */
export interface ExactlyOnceCheck {
  /** Acknowledged events with exactly one processed_events row and one mailgun_events row. */
  exactlyOnce: number;
  /** Acknowledged events not processed yet whose workflow is still open in Temporal: backlog. */
  pending: string[];
  /** Acknowledged events with no rows and no workflow, or a closed workflow (or one row of two). */
  lost: string[];
  /** Ids with more than one row in processed_events or mailgun_events. */
  doubled: string[];
  /** Messages whose opened/clicked counters differ from their recorded events (a double effect). */
  counterMismatches: number;
  /** Rows for events that were sent but never acknowledged (the start persisted, the 202 was lost). */
  processedWithoutAck: number;
  processedRows: number;
  mailgunRows: number;
  /** Workflows of the run that parked (should be 0: the retry budget is high). */
  parked?: number;
}

/**
 * Classifies every acknowledged event: processed exactly once, pending (no rows yet, its workflow
 * still running in Temporal), lost (no rows, and no workflow or a closed one), or doubled.
 */
export async function checkExactlyOnce(
  pool: pg.Pool,
  s: Pick<LoadStats, 'acked'>,
  temporalAddress: string,
  taskQueue: string,
): Promise<ExactlyOnceCheck> {
  const processed = await pool.query<{ id: string; n: string }>(
    'SELECT id, count(*) AS n FROM processed_events GROUP BY id',
  );
  const mailgun = await pool.query<{ id: string; n: string }>(
    `SELECT 'mailgun:' || event_id AS id, count(*) AS n FROM mailgun_events GROUP BY event_id`,
  );
  const pCount = new Map(processed.rows.map((r) => [r.id, Number(r.n)]));
  const mCount = new Map(mailgun.rows.map((r) => [r.id, Number(r.n)]));
  const doubled = new Set<string>();
  for (const [id, n] of [...pCount, ...mCount]) if (n > 1) doubled.add(id);
  let exactlyOnce = 0;
  const unprocessed: string[] = [];
  const lost: string[] = [];
  for (const id of s.acked.keys()) {
    if (doubled.has(id)) continue;
    const p = pCount.get(id) ?? 0;
    const m = mCount.get(id) ?? 0;
    if (p === 1 && m === 1) exactlyOnce++;
    else if (p === 0 && m === 0) unprocessed.push(id);
    else lost.push(id); // one row without the other: the transaction did not hold
  }

  const connection = await Connection.connect({ address: temporalAddress });
  const pending: string[] = [];
  let parked: number | undefined;
  try {
    const client = new Client({ connection, namespace: 'default' });
    // Unprocessed events: still running in Temporal is backlog; gone or closed is lost.
    for (let i = 0; i < unprocessed.length; i += 20) {
      await Promise.all(
        unprocessed.slice(i, i + 20).map(async (id) => {
          try {
            const d = await client.workflow.getHandle(id).describe();
            (d.status.name === 'RUNNING' ? pending : lost).push(id);
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) lost.push(id);
            else throw err;
          }
        }),
      );
    }
    const c = await client.workflow.count(`TaskQueue = "${taskQueue}" AND IntakeStatus = "parked"`);
    parked = c.count;
  } finally {
    await connection.close();
  }

  const counters = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM mailgun_messages m
     WHERE m.opened_count <> (SELECT count(*) FROM mailgun_events e WHERE e.message_id = m.message_id AND e.event = 'opened')
        OR m.clicked_count <> (SELECT count(*) FROM mailgun_events e WHERE e.message_id = m.message_id AND e.event = 'clicked')`,
  );
  let processedWithoutAck = 0;
  for (const id of pCount.keys()) if (!s.acked.has(id)) processedWithoutAck++;
  return {
    exactlyOnce,
    pending,
    lost,
    doubled: [...doubled],
    counterMismatches: Number(counters.rows[0]?.n ?? 0),
    processedWithoutAck,
    processedRows: pCount.size,
    mailgunRows: mCount.size,
    parked,
  };
}

/** Why the run fails, one reason per failed claim; empty when it passes. */
export function failureReasons(check: ExactlyOnceCheck, drain: DrainResult, stallS: number): string[] {
  const reasons: string[] = [];
  if (check.lost.length) reasons.push(`${check.lost.length} acknowledged events lost`);
  if (check.doubled.length) reasons.push(`${check.doubled.length} events processed twice`);
  if (check.counterMismatches) reasons.push(`${check.counterMismatches} message counters mismatch`);
  if (drain.stalled && check.pending.length)
    reasons.push(`backlog stalled: ${check.pending.length} pending events, no progress for ${stallS} s`);
  return reasons;
}
