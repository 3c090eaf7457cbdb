import pg from 'pg';
import { sleep } from './children';
import {
  prebuiltBundleEnv,
  startApiProcess,
  startDevProcess,
  startWorkerProcess,
  taskQueue,
  type IntakeSetup,
} from './intake-procs';
import { httpLoad } from './load';
import { signedBodies } from './mailgun-bodies';
import { createDatabase } from './postgres';
import { slope, summarize, type LatencySummary } from './stats';

/** Options of {@link runEndToEnd}. */
export interface E2eOptions {
  temporalAddress: string;
  logDir: string;
  connections: number;
  durationS: number;
  /** Seconds of unmeasured load before the run, processed before the measurement starts. */
  warmupS: number;
  /** Give up waiting for the backlog to drain after this long. */
  drainTimeoutS: number;
  env?: Record<string, string>;
  /** Fixed arrival rate (events/s); unset = closed loop, as fast as Intake acknowledges. */
  rate?: number;
  /** intake api processes (node:cluster). Default 1. */
  apiProcesses?: number;
  /** Run `intake dev` (API and worker in one process, its own dev server) instead of api + worker. */
  dev?: boolean;
  log: (l: string) => void;
}

/** One second of the run: events acknowledged and processed so far. */
export interface BacklogSample {
  t: number;
  acked: number;
  processed: number;
}

/** What the end-to-end run measured. */
export interface E2eResult {
  connections: number;
  /** The fixed arrival rate, if one was set. */
  rate?: number;
  durationS: number;
  acked: number;
  processed: number;
  /** Acknowledged events never processed within the drain timeout. */
  unprocessed: number;
  ingestRps: number;
  /** Processed events per second while the load ran. */
  processedRpsDuringLoad: number;
  /** Processed / (last processed_at − first send), events per second. */
  endToEndRps: number;
  /** Backlog (acked − processed) growth per second over the last two thirds of the load, least squares. */
  backlogSlopePerS: number;
  backlogAtEnd: number;
  drainS: number;
  ack: { p50: number; p99: number };
  /** POST sent → processed_events.processed_at, ms. */
  receivedToProcessed: LatencySummary;
  peakRssApiBytes?: number;
  peakRssWorkerBytes?: number;
  samples: BacklogSample[];
  keepsPace: boolean;
}

/**
 * (f) End to end: `intake api` and `intake worker` as child processes on a fresh database and task
 * queue; signed events for `durationS` at `connections`, then wait until every acknowledged event
 * has its processed_events row. Latency is the POST's send time to processed_events.processed_at
 * (same machine clock).
 */
export async function runEndToEnd(o: E2eOptions): Promise<E2eResult> {
  const db = await createDatabase('intake_bench_e2e');
  const setup: IntakeSetup = {
    temporalAddress: o.temporalAddress,
    databaseUrl: db.url,
    taskQueue: taskQueue('bench-e2e'),
    logDir: o.logDir,
    env: { ...(await prebuiltBundleEnv(o.logDir)), ...o.env },
    apiProcesses: o.apiProcesses,
  };
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const api = o.dev ? await startDevProcess(setup, 'e2e-dev') : await startApiProcess(setup, 'e2e-api');
  const worker = o.dev ? undefined : await startWorkerProcess(setup, 'e2e-worker');
  try {
    const sentAt = new Map<string, number>();
    const acked = new Set<string>();
    const bodies = signedBodies(Math.max(20_000, o.durationS * 1500));
    const samples: BacklogSample[] = [];
    const countAll = async () =>
      Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM processed_events')).rows[0]?.n ?? 0);
    // Warm-up (not measured): the new worker's first workflow tasks load the bundle into its
    // isolates, and the JIT is cold. Wait until the warm-up events are processed, then count from there.
    let base = 0;
    if (o.warmupS > 0) {
      const w = await httpLoad({
        url: api.url,
        connections: o.connections,
        durationS: o.warmupS,
        overallRate: o.rate,
        bodies: signedBodies(Math.max(2000, o.warmupS * 1500)),
      });
      const until = Date.now() + 60_000;
      while ((base = await countAll()) < w.total && Date.now() < until) await sleep(250);
      await sleep(1000);
      base = await countAll();
    }
    const countProcessed = async () => (await countAll()) - base;
    const t0 = Date.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ t: (Date.now() - t0) / 1000, acked: acked.size, processed: await countProcessed() });
        await sleep(1000);
      }
    })();
    const load = await httpLoad({
      url: api.url,
      connections: o.connections,
      durationS: o.durationS,
      overallRate: o.rate,
      bodies,
      onSend: (b) => sentAt.set(b.id, Date.now()),
      onAnswer: (b, status) => {
        if (status === 200 || status === 202) acked.add(b.id);
      },
    });
    const loadEnd = Date.now();
    const processedAtLoadEnd = await countProcessed();
    o.log(`  e2e: ${acked.size} acked in ${o.durationS} s; ${processedAtLoadEnd} processed; draining…`);
    const drainDeadline = Date.now() + o.drainTimeoutS * 1000;
    // Requests cut off by the end of the load may have started workflows too, so the count alone
    // can pass acked.size early: once it does, check that every acknowledged id is there.
    const allAckedProcessed = async () => {
      if ((await countProcessed()) < acked.size) return false;
      const { rows } = await pool.query<{ id: string }>('SELECT id FROM processed_events');
      const have = new Set(rows.map((r) => r.id));
      for (const id of acked) if (!have.has(id)) return false;
      return true;
    };
    while (!(await allAckedProcessed()) && Date.now() < drainDeadline) await sleep(500);
    const drainS = (Date.now() - loadEnd) / 1000;
    sampling = false;
    await sampler;
    const peakRssApiBytes = api.child.peakRss();
    const peakRssWorkerBytes = worker?.peakRss();

    const { rows } = await pool.query<{ id: string; at: Date }>(
      'SELECT id, processed_at AS at FROM processed_events',
    );
    const latencies: number[] = [];
    let lastProcessed = 0;
    for (const r of rows) {
      const sent = sentAt.get(r.id);
      if (sent === undefined || !acked.has(r.id)) continue;
      const at = r.at.getTime();
      latencies.push(at - sent);
      lastProcessed = Math.max(lastProcessed, at);
    }
    // The first third ramps up to the steady in-flight backlog (rate × latency); growth after that
    // is what "not keeping pace" means.
    const inLoad = samples.filter((s) => s.t >= o.durationS / 3 && s.t <= o.durationS);
    const backlogSlope = slope(inLoad.map((s) => ({ x: s.t, y: s.acked - s.processed })));
    const backlogAtEnd = acked.size - processedAtLoadEnd;
    const ingestRps = load.total / load.durationS;
    const processedRpsDuringLoad = processedAtLoadEnd / load.durationS;
    return {
      connections: o.connections,
      rate: o.rate,
      durationS: load.durationS,
      acked: acked.size,
      processed: latencies.length,
      unprocessed: acked.size - latencies.length,
      ingestRps,
      processedRpsDuringLoad,
      endToEndRps: latencies.length / Math.max(0.001, (lastProcessed - t0) / 1000),
      backlogSlopePerS: backlogSlope,
      backlogAtEnd,
      drainS,
      ack: { p50: load.p50, p99: load.p99 },
      receivedToProcessed: summarize(latencies),
      peakRssApiBytes,
      peakRssWorkerBytes,
      samples,
      // Keeping pace: the backlog does not grow by more than 2 % of the ingest rate per second.
      keepsPace: backlogSlope <= 0.02 * ingestRps,
    };
  } finally {
    await api.child.stop();
    await worker?.stop();
    await pool.end();
    await db.drop();
  }
}
