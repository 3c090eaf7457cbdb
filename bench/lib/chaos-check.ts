import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { sleep } from './children';
import type { LoadStats } from './chaos-load';

/** How the backlog drained after the load stopped. */
export interface DrainResult {
  /** Seconds until every acknowledged event had its processed_events row (or the timeout). */
  drainS: number;
  complete: boolean;
  /** processed_at of every processed event (ms since epoch), ascending. */
  processedAt: number[];
}

/** Waits until every id in `acked` has a processed_events row, or `timeoutMs` passed. */
export async function waitForDrain(
  pool: pg.Pool,
  acked: string[],
  timeoutMs: number,
  log: (l: string) => void,
): Promise<DrainResult> {
  const t0 = Date.now();
  let lastLog = t0;
  const want = new Set(acked);
  let complete = false;
  while (Date.now() - t0 < timeoutMs) {
    try {
      const { rows } = await pool.query<{ id: string }>('SELECT id FROM processed_events');
      let have = 0;
      for (const r of rows) if (want.has(r.id)) have++;
      if (have === want.size) {
        complete = true;
        break;
      }
      if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        log(`  drain: ${have}/${want.size} acknowledged events processed`);
      }
    } catch {
      // PostgreSQL may still be coming back from its restart.
    }
    await sleep(500);
  }
  const { rows } = await pool.query<{ at: Date }>(
    'SELECT processed_at AS at FROM processed_events ORDER BY 1',
  );
  return { drainS: (Date.now() - t0) / 1000, complete, processedAt: rows.map((r) => r.at.getTime()) };
}

/** The verdict: every acknowledged event exactly once in the ledger and in the Mailgun tables. */
export interface ExactlyOnceCheck {
  /** Acknowledged ids missing from processed_events or mailgun_events. */
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

/** Checks the store (and Temporal's visibility for parked events) against what was acknowledged. */
export async function checkExactlyOnce(
  pool: pg.Pool,
  s: LoadStats,
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
  const lost: string[] = [];
  const doubled: string[] = [];
  for (const id of s.acked.keys()) {
    if (!pCount.get(id) || !mCount.get(id)) lost.push(id);
  }
  for (const [id, n] of [...pCount, ...mCount]) if (n > 1) doubled.push(id);
  const counters = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM mailgun_messages m
     WHERE m.opened_count <> (SELECT count(*) FROM mailgun_events e WHERE e.message_id = m.message_id AND e.event = 'opened')
        OR m.clicked_count <> (SELECT count(*) FROM mailgun_events e WHERE e.message_id = m.message_id AND e.event = 'clicked')`,
  );
  let processedWithoutAck = 0;
  for (const id of pCount.keys()) if (!s.acked.has(id)) processedWithoutAck++;
  let parked: number | undefined;
  try {
    const connection = await Connection.connect({ address: temporalAddress });
    const client = new Client({ connection, namespace: 'default' });
    const c = await client.workflow.count(`TaskQueue = "${taskQueue}" AND IntakeStatus = "parked"`);
    parked = c.count;
    await connection.close();
  } catch {
    parked = undefined;
  }
  return {
    lost,
    doubled,
    counterMismatches: Number(counters.rows[0]?.n ?? 0),
    processedWithoutAck,
    processedRows: pCount.size,
    mailgunRows: mCount.size,
    parked,
  };
}
