/**
 * `npm run bench:drain`: can Intake process what it acknowledges? On one Temporal server (`--server
 * dev`: the dev server; `--server postgres`: the Temporal server on the local PostgreSQL, built by
 * bench/ensure-temporal-server.ts), in one run (so the ratios hold on a busy machine):
 *  1. raw starts/s: the raw-start scenario (no HTTP, no worker) at `--connections`;
 *  2. drain: N signed events acknowledged through `intake api` with no worker running, then one
 *     `intake worker` starts and processes the backlog: processed/s ÷ raw starts/s, and history
 *     events per processed event (every event's history length, from Temporal);
 *  3. end to end at fixed arrival rates (`--rates`): received→processed p50/p99 and backlog slope.
 * Writes bench/results/drain-<timestamp>.json (and latest-drain.json) and prints a markdown summary for BENCHMARKS.md.
 *
 *   npm run bench:drain -- --events 600 --rates 30,60,90 --rate-duration 20 [--server postgres]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Command, Option } from 'commander';
import pg from 'pg';
import { envPairs, sleep } from './lib/children';
import { runRawStarts } from './lib/raw-start';
import { runEndToEnd, type E2eResult } from './lib/e2e';
import { writeResultFile } from './lib/results';
import { cpuMeter } from './lib/cpu';
import { prebuiltBundleEnv, startApiProcess, startWorkerProcess, taskQueue } from './lib/intake-procs';
import { signedBodies, type SignedBody } from './lib/mailgun-bodies';
import { createDatabase } from './lib/postgres';
import {
  startDevBackend,
  startPostgresBackend,
  TemporalServerNotBuiltError,
  type TemporalBackend,
} from './lib/temporal';

interface DrainOptions {
  server: TemporalBackend['kind'];
  synchronousCommit: 'on' | 'off';
  events: number;
  connections: number;
  rawDurationS: number;
  rates: number[];
  rateDurationS: number;
  env: Record<string, string>;
  label: string;
}

const log = (l: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);

function parse(): DrainOptions {
  const o = new Command('bench:drain')
    .addOption(
      new Option('--server <kind>', 'Temporal server: dev server or the server on PostgreSQL')
        .choices(['dev', 'postgres'])
        .default('dev'),
    )
    .addOption(
      new Option('--synchronous-commit <on|off>', "with --server postgres: the server's databases' setting")
        .choices(['on', 'off'])
        .default('on'),
    )
    .option('--events <n>', 'events in the drain backlog', '600')
    .option('--connections <n>', 'concurrency of raw starts and of the acknowledging burst', '64')
    .option('--raw-duration <s>', 'seconds of raw starts', '10')
    .option('--rates <list>', 'fixed arrival rates for end to end, events/s (empty: skip)', '30,60,90')
    .option('--rate-duration <s>', 'seconds of load per arrival rate', '20')
    .option('--env <KEY=VALUE...>', 'extra environment for intake api/worker (tuning experiments)')
    .option('--label <text>', 'what this run measures (e.g. the commit)', '')
    .parse(process.argv)
    .opts<Record<string, string | string[] | undefined>>();
  const env = envPairs(o.env as string[] | undefined);
  return {
    server: o.server === 'postgres' ? 'postgres' : 'dev',
    synchronousCommit: o.synchronousCommit === 'off' ? 'off' : 'on',
    events: Number(o.events),
    connections: Number(o.connections),
    rawDurationS: Number(o.rawDuration),
    rates: String(o.rates ?? '')
      .split(',')
      .filter(Boolean)
      .map(Number),
    rateDurationS: Number(o.rateDuration),
    env,
    label: String(o.label ?? ''),
  };
}

/** POSTs every body with `connections` in flight; returns the ids answered `accepted` (Mailgun: 200). */
async function ackAll(url: string, bodies: SignedBody[], connections: number): Promise<string[]> {
  const acked: string[] = [];
  let next = 0;
  const lane = async () => {
    for (let b = bodies[next++]; b; b = bodies[next++]) {
      const res = await fetch(`${url}/webhooks/mailgun`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: b.body,
      });
      const answer = (await res.json().catch(() => ({}))) as { status?: string };
      if (res.ok && answer.status === 'accepted') acked.push(b.id);
    }
  };
  await Promise.all(Array.from({ length: connections }, lane));
  return acked;
}

interface DrainResult {
  acked: number;
  ackS: number;
  processed: number;
  drainS: number;
  processedPerS: number;
  historyEventsPerEvent: number;
  /** Events whose history shows a regular activity (the fallback) or a timed-out attempt. */
  fallbacks: number;
  timeouts: number;
  /** Temporal server CPU per acknowledged start (its process, and for postgres its PostgreSQL backends), ms. */
  serverCpuMsPerAck: number;
  /**
   * CPU milliseconds per processed event while the backlog drained (user + system, from /proc):
   * the worker process, and the Temporal server (TemporalBackend.cpuSeconds: for postgres with the
   * PostgreSQL backends serving it).
   * Unlike events/s, these hardly depend on what else runs on the machine.
   */
  cpuMsPerEvent: { worker: number; server: number };
}

async function drain(backend: TemporalBackend, o: DrainOptions, logDir: string): Promise<DrainResult> {
  const address = backend.address;
  const db = await createDatabase('intake_bench_drain');
  const setup = {
    temporalAddress: address,
    databaseUrl: db.url,
    taskQueue: taskQueue('bench-drain'),
    logDir,
    env: { ...(await prebuiltBundleEnv(logDir)), INTAKE_WORKER_METRICS_PORT: '0', ...o.env },
  };
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const api = await startApiProcess(setup, 'drain-api');
  try {
    const bodies = signedBodies(o.events);
    const cpuAck = await backend.cpuSeconds();
    const t0 = Date.now();
    const ids = await ackAll(api.url, bodies, o.connections);
    const ackS = (Date.now() - t0) / 1000;
    const cpuDrain = await backend.cpuSeconds();
    log(`  drain: ${ids.length} acked in ${ackS.toFixed(1)} s; starting one intake worker`);
    const count = async () =>
      Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM processed_events')).rows[0]?.n ?? 0);
    const worker = await startWorkerProcess(setup, 'drain-worker');
    // Measured from the worker's first processed event (its start-up is not processing).
    while ((await count()) === 0) await sleep(50);
    const first = Date.now();
    const workerCpu = cpuMeter([worker.pid]);
    // The backend's own reading: the server process, and for postgres its PostgreSQL backends.
    const serverCpuStart = await backend.cpuSeconds();
    const deadline = first + 300_000;
    let n = 0;
    while ((n = await count()) < ids.length && Date.now() < deadline) await sleep(100);
    const drainS = (Date.now() - first) / 1000;
    const cpuS = { worker: workerCpu.read(), server: (await backend.cpuSeconds()) - serverCpuStart };
    await worker.stop();
    let historyEvents = 0;
    let fallbacks = 0;
    let timeouts = 0;
    for (const id of ids) {
      const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
      historyEvents += events.length;
      if (events.some((e) => e.activityTaskScheduledEventAttributes)) fallbacks++;
      if (events.some((e) => e.activityTaskTimedOutEventAttributes)) timeouts++;
    }
    return {
      acked: ids.length,
      ackS,
      processed: n,
      drainS,
      // The first event is the clock's start, so it is not counted.
      processedPerS: (n - 1) / Math.max(0.001, drainS),
      historyEventsPerEvent: historyEvents / Math.max(1, ids.length),
      fallbacks,
      timeouts,
      serverCpuMsPerAck: ((cpuDrain - cpuAck) * 1000) / Math.max(1, ids.length),
      cpuMsPerEvent: {
        worker: (cpuS.worker * 1000) / Math.max(1, n - 1),
        server: (cpuS.server * 1000) / Math.max(1, n - 1),
      },
    };
  } finally {
    await api.child.stop();
    await connection.close();
    await pool.end();
    await db.drop();
  }
}

async function main(): Promise<void> {
  const o = parse();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-drain-'));
  const loadAtStart = os.loadavg();
  log(`drain bench: logs in ${logDir}; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`);
  const backend =
    o.server === 'postgres'
      ? await startPostgresBackend({
          logDir: path.join(logDir, 'temporal'),
          log,
          synchronousCommit: o.synchronousCommit,
        })
      : await startDevBackend(path.join(logDir, 'temporal'));
  log(`  ${backend.label} at ${backend.address}`);
  try {
    const raw = (
      await runRawStarts({
        address: backend.address,
        concurrency: o.connections,
        durationS: o.rawDurationS,
        logDir,
      })
    ).rps;
    log(`  raw starts: ${raw.toFixed(1)}/s at ${o.connections}`);
    const d = await drain(backend, o, logDir);
    log(
      `  drain: ${d.processed}/${d.acked} in ${d.drainS.toFixed(1)} s = ${d.processedPerS.toFixed(1)}/s ` +
        `(${(d.processedPerS / raw).toFixed(2)} × raw); ${d.historyEventsPerEvent.toFixed(1)} history events/event; ` +
        `${d.fallbacks} with a regular activity, ${d.timeouts} with a timed-out attempt; CPU per event: ` +
        `worker ${d.cpuMsPerEvent.worker.toFixed(1)} ms, server ${d.cpuMsPerEvent.server.toFixed(1)} ms ` +
        `(per acknowledged start ${d.serverCpuMsPerAck.toFixed(1)} ms)`,
    );
    const rates: E2eResult[] = [];
    for (const rate of o.rates) {
      // A busy dev server can refuse a worker's start (SQLite interrupted): report, go on.
      const e = await runEndToEnd({
        temporalAddress: backend.address,
        logDir,
        connections: Math.max(8, Math.ceil(rate / 5)),
        durationS: o.rateDurationS,
        warmupS: 2,
        drainTimeoutS: 60,
        env: { INTAKE_WORKER_METRICS_PORT: '0', ...o.env },
        rate,
        log,
      }).catch((err: unknown) => {
        log(`  ${rate}/s: failed: ${(err as Error).message}`);
        return undefined;
      });
      if (!e) continue;
      rates.push(e);
      log(
        `  ${rate}/s: processed ${e.processedRpsDuringLoad.toFixed(1)}/s during load, received→processed ` +
          `p50 ${e.receivedToProcessed.p50.toFixed(0)} ms p99 ${e.receivedToProcessed.p99.toFixed(0)} ms, ` +
          `backlog slope ${e.backlogSlopePerS.toFixed(2)}/s, unprocessed ${e.unprocessed}`,
      );
    }
    const out = writeResultFile('drain', {
      label: o.label,
      server: backend.label,
      loadAverage: { start: loadAtStart, end: os.loadavg() },
      options: o,
      rawStartsPerS: raw,
      drain: d,
      rates: rates.map(({ samples: _s, ...r }) => r),
    });
    const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
    const md = [
      row([
        'run',
        'raw starts/s',
        'drain processed/s',
        '÷ raw',
        'history events/event',
        'CPU ms/event worker / server',
        'server CPU ms/ack',
        ...rates.map((e) => `${e.rate}/s p50 / p99 ms, slope/s`),
      ]),
      row(Array.from({ length: 7 + rates.length }, () => '---')),
      row([
        o.label,
        raw.toFixed(0),
        d.processedPerS.toFixed(1),
        (d.processedPerS / raw).toFixed(2),
        d.historyEventsPerEvent.toFixed(1),
        `${d.cpuMsPerEvent.worker.toFixed(1)} / ${d.cpuMsPerEvent.server.toFixed(1)}`,
        d.serverCpuMsPerAck.toFixed(1),
        ...rates.map(
          (e) =>
            `${e.receivedToProcessed.p50.toFixed(0)} / ${e.receivedToProcessed.p99.toFixed(0)}, ${e.backlogSlopePerS.toFixed(2)}`,
        ),
      ]),
    ];
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    process.stdout.write(
      `\n${md.join('\n')}\n\n${backend.label}; load average ${load(loadAtStart)} at the start, ` +
        `${load(os.loadavg())} at the end\nresults: ${out}\n`,
    );
    fs.rmSync(logDir, { recursive: true, force: true });
  } finally {
    await backend.stop();
  }
}

main().catch((err: unknown) => {
  // A missing server binary is a setup step, not a bug: its message says what to run.
  const text = err instanceof TemporalServerNotBuiltError ? err.message : (err as Error).stack;
  process.stderr.write(`bench:drain: ${text ?? String(err)}\n`);
  process.exit(1);
});
