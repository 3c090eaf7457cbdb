/**
 * `npm run bench:drain`: can Intake process what it acknowledges? On one Temporal server (`--server
 * dev`: the dev server; `--server postgres`: the Temporal server on the local PostgreSQL, built by
 * bench/ensure-temporal-server.ts; `--server cluster`, or `--cluster`: the same server as separate
 * frontend, history ×2, matching ×2 and worker processes on a private PostgreSQL, as
 * `npm run drill:cluster` runs it), in one run (so the ratios hold on a busy machine):
 *  1. raw starts/s: the raw-start scenario (no HTTP, no worker) at `--connections`;
 *  2. drain, once per entry of `--workers` (default 1; e.g. `1,2` or `1,2,2,1`): N signed events
 *     acknowledged through `intake api` with no worker running, then that many `intake worker`
 *     processes start together and process the backlog: processed/s ÷ raw starts/s, history events
 *     per processed event (every event's history length, from Temporal), CPU per event of the
 *     workers and of the server (per service with `--server cluster`) and how busy the machine was;
 *     With `--sources mailgun,file` (the default) each drain runs twice: the Mailgun code source, then
 *     a file source (`preset: github`, bench/lib/file-source.ts) delivering every event to a local
 *     receiver in this process, counted when the receiver has answered 200 for its webhook-id;
 *  3. end to end at fixed arrival rates (`--rates`): received→processed p50/p99 and backlog slope.
 * Writes bench/results/drain-<timestamp>.json (and latest-drain.json) and prints a markdown summary for BENCHMARKS.md.
 *
 *   npm run bench:drain -- --events 600 --rates 30,60,90 --rate-duration 20 [--server postgres]
 *   npm run bench:drain -- --cluster --workers 1,2 --events 2000 --rates ''
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
import { cpuMeter, machineCpuSeconds } from './lib/cpu';
import { startClusterStack } from './lib/cluster-stack';
import { prebuiltBundleEnv, startApiProcess, startWorkerProcess, taskQueue } from './lib/intake-procs';
import { signedBodies, type SignedBody } from './lib/mailgun-bodies';
import { fileSourceBench, type FileSourceBench } from './lib/file-source';
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
  /** Worker processes of each drain, in order (one drain per entry). */
  workers: number[];
  /** Which sources drain, in order: the Mailgun code source and a delivering file source. */
  sources: ('mailgun' | 'file')[];
  env: Record<string, string>;
  label: string;
}

const log = (l: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);

function parse(): DrainOptions {
  const o = new Command('bench:drain')
    .addOption(
      new Option(
        '--server <kind>',
        'Temporal server: dev server, the server on PostgreSQL, or one process per service (cluster)',
      )
        .choices(['dev', 'postgres', 'cluster'])
        .default('dev'),
    )
    .option('--cluster', 'the same as --server cluster')
    .option('--workers <list>', 'intake worker processes per drain, one drain each (e.g. 1,2)', '1')
    .option(
      '--sources <list>',
      'sources to drain, each per worker count: mailgun (code), file (delivery)',
      'mailgun,file',
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
  const workers = String(o.workers).split(',').filter(Boolean).map(Number);
  if (workers.length === 0 || workers.some((w) => !Number.isInteger(w) || w < 1)) {
    throw new Error(`--workers: a list of positive integers, got "${String(o.workers)}"`);
  }
  return {
    server: o.cluster ? 'cluster' : o.server === 'postgres' || o.server === 'cluster' ? o.server : 'dev',
    synchronousCommit: o.synchronousCommit === 'off' ? 'off' : 'on',
    events: Number(o.events),
    connections: Number(o.connections),
    rawDurationS: Number(o.rawDuration),
    rates: String(o.rates ?? '')
      .split(',')
      .filter(Boolean)
      .map(Number),
    rateDurationS: Number(o.rateDuration),
    workers,
    sources: String(o.sources)
      .split(',')
      .filter(Boolean)
      .map((x) => {
        if (x !== 'mailgun' && x !== 'file') throw new Error(`--sources: mailgun or file, got "${x}"`);
        return x;
      }),
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
      const res = await fetch(`${url}${b.path ?? '/webhooks/mailgun'}`, {
        method: 'POST',
        headers: b.headers ?? { 'content-type': 'application/json' },
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
  /** The source drained: `mailgun` (code source, processed = ledger row) or `file` (delivered = 200). */
  source: 'mailgun' | 'file';
  /** intake worker processes that drained the backlog. */
  workers: number;
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
   * the worker processes together, and the Temporal server (TemporalBackend.cpuSeconds: for
   * postgres with the PostgreSQL backends serving it, for cluster every service process and the
   * private PostgreSQL). Unlike events/s, these hardly depend on what else runs on the machine.
   */
  cpuMsPerEvent: { worker: number; server: number };
  /** With `--server cluster`: the server's CPU ms per processed event by service and PostgreSQL. */
  serverCpuMsPerEventByPart?: Record<string, number>;
  /**
   * The machine while the backlog drained: cores busy on average (of `cores`; everyone's
   * processes, from /proc/stat), of which the workers and the server, and the 1-minute load average
   * at the end.
   */
  machine: {
    cores: number;
    busyCores: number;
    workerCores: number;
    serverCores: number;
    loadAverage1m: number;
  };
}

/** A started Temporal server, and (cluster) its CPU seconds by part. */
interface Bench {
  backend: TemporalBackend;
  cpuByPart?: () => Record<string, number>;
}

/** Runs `fn` over `items` with `concurrency` calls in flight. */
async function forEachLimited<T>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

async function drain(
  bench: Bench,
  o: DrainOptions,
  logDir: string,
  workers: number,
  source: 'mailgun' | 'file',
): Promise<DrainResult> {
  const { backend } = bench;
  const address = backend.address;
  const db = await createDatabase('intake_bench_drain');
  const file: FileSourceBench | undefined = source === 'file' ? await fileSourceBench(logDir) : undefined;
  const setup = {
    temporalAddress: address,
    databaseUrl: db.url,
    taskQueue: taskQueue('bench-drain'),
    logDir,
    env: {
      ...(await prebuiltBundleEnv(logDir)),
      INTAKE_WORKER_METRICS_PORT: '0',
      ...file?.env,
      ...o.env,
    },
  };
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const api = await startApiProcess(setup, `drain-api-w${workers}`);
  try {
    const bodies = file ? file.signedBodies(o.events) : signedBodies(o.events);
    const cpuAck = await backend.cpuSeconds();
    const t0 = Date.now();
    const ids = await ackAll(api.url, bodies, o.connections);
    const ackS = (Date.now() - t0) / 1000;
    const cpuDrain = await backend.cpuSeconds();
    // The API stays up: it relays any event it acknowledged from the start spool.
    log(`  drain: ${ids.length} acked in ${ackS.toFixed(1)} s; starting ${workers} intake worker(s)`);
    const count = async () =>
      file
        ? file.delivered()
        : Number(
            (await pool.query<{ n: string }>('SELECT count(*) AS n FROM processed_events')).rows[0]?.n ?? 0,
          );
    const procs = await Promise.all(
      Array.from({ length: workers }, (_, i) =>
        startWorkerProcess(setup, `drain-w${workers}-worker-${i + 1}`),
      ),
    );
    // Measured once every worker polls and the first event is processed (start-up is not processing).
    let n0 = 0;
    while ((n0 = await count()) === 0) await sleep(50);
    const first = Date.now();
    const workerCpu = cpuMeter(procs.map((p) => p.pid));
    // The backend's own reading: the server process, and for postgres its PostgreSQL backends.
    const serverCpuStart = await backend.cpuSeconds();
    const partsStart = bench.cpuByPart?.();
    const machineStart = machineCpuSeconds();
    const deadline = first + 300_000;
    let n = 0;
    while ((n = await count()) < ids.length && Date.now() < deadline) await sleep(100);
    const drainS = (Date.now() - first) / 1000;
    const machineEnd = machineCpuSeconds();
    const cpuS = { worker: workerCpu.read(), server: (await backend.cpuSeconds()) - serverCpuStart };
    const partsEnd = bench.cpuByPart?.();
    const loadAverage1m = os.loadavg()[0] ?? 0;
    for (const p of procs) await p.stop();
    const perEvent = (seconds: number) => (seconds * 1000) / Math.max(1, n - n0);
    let historyEvents = 0;
    let fallbacks = 0;
    let timeouts = 0;
    await forEachLimited(ids, 8, async (id) => {
      const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
      historyEvents += events.length;
      if (events.some((e) => e.activityTaskScheduledEventAttributes)) fallbacks++;
      if (events.some((e) => e.activityTaskTimedOutEventAttributes)) timeouts++;
    });
    const cores = os.cpus().length;
    const wall = Math.max(0.001, drainS);
    return {
      source,
      workers,
      acked: ids.length,
      ackS,
      processed: n,
      drainS,
      // Counted from the first processed event(s), which start the clock.
      processedPerS: (n - n0) / wall,
      historyEventsPerEvent: historyEvents / Math.max(1, ids.length),
      fallbacks,
      timeouts,
      serverCpuMsPerAck: ((cpuDrain - cpuAck) * 1000) / Math.max(1, ids.length),
      cpuMsPerEvent: { worker: perEvent(cpuS.worker), server: perEvent(cpuS.server) },
      serverCpuMsPerEventByPart:
        partsStart && partsEnd
          ? Object.fromEntries(
              Object.entries(partsEnd).map(([k, v]) => [k, perEvent(v - (partsStart[k] ?? 0))]),
            )
          : undefined,
      machine: {
        cores,
        busyCores:
          ((machineEnd.busy - machineStart.busy) / Math.max(0.001, machineEnd.total - machineStart.total)) *
          cores,
        workerCores: cpuS.worker / wall,
        serverCores: cpuS.server / wall,
        loadAverage1m,
      },
    };
  } finally {
    await api.child.stop();
    await connection.close();
    await pool.end();
    await db.drop();
    await file?.close();
  }
}

async function startBench(o: DrainOptions, logDir: string): Promise<Bench> {
  const dir = path.join(logDir, 'temporal');
  if (o.server === 'cluster') {
    const stack = await startClusterStack({ logDir: dir, log });
    return { backend: stack.backend, cpuByPart: stack.cpuByPart };
  }
  if (o.server === 'postgres') {
    return {
      backend: await startPostgresBackend({ logDir: dir, log, synchronousCommit: o.synchronousCommit }),
    };
  }
  return { backend: await startDevBackend(dir) };
}

const f1 = (x: number) => x.toFixed(1);

function describeDrain(d: DrainResult, raw: number): string {
  const parts = d.serverCpuMsPerEventByPart
    ? ` (${Object.entries(d.serverCpuMsPerEventByPart)
        .map(([k, v]) => `${k} ${f1(v)}`)
        .join(', ')})`
    : '';
  return (
    `  drain, ${d.source}, ${d.workers} worker(s): ${d.processed}/${d.acked} in ${f1(d.drainS)} s = ${f1(d.processedPerS)}/s ` +
    `(${(d.processedPerS / raw).toFixed(2)} × raw); ${f1(d.historyEventsPerEvent)} history events/event; ` +
    `${d.fallbacks} with a regular activity, ${d.timeouts} with a timed-out attempt; CPU per event: ` +
    `workers ${f1(d.cpuMsPerEvent.worker)} ms, server ${f1(d.cpuMsPerEvent.server)} ms${parts} ` +
    `(per acknowledged start ${f1(d.serverCpuMsPerAck)} ms); machine ${d.machine.busyCores.toFixed(2)} of ` +
    `${d.machine.cores} cores busy (workers ${d.machine.workerCores.toFixed(2)}, server ` +
    `${d.machine.serverCores.toFixed(2)}), load average ${d.machine.loadAverage1m.toFixed(1)}`
  );
}

async function main(): Promise<void> {
  const o = parse();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-drain-'));
  const loadAtStart = os.loadavg();
  log(`drain bench: logs in ${logDir}; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`);
  const bench = await startBench(o, logDir);
  const { backend } = bench;
  // Interrupted: the server goes too (the cluster's PostgreSQL runs detached and would stay).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void backend.stop().finally(() => process.exit(130)));
  }
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
    const drains: DrainResult[] = [];
    for (const workers of o.workers) {
      for (const source of o.sources) {
        const d = await drain(bench, o, logDir, workers, source);
        drains.push(d);
        log(describeDrain(d, raw));
      }
    }
    // The file source's rate against the code source's, per worker count (target ≥ 0.8).
    const fileVsCode = o.workers.flatMap((w) => {
      const code = drains.find((d) => d.workers === w && d.source === 'mailgun');
      const fileD = drains.find((d) => d.workers === w && d.source === 'file');
      return code && fileD ? [{ workers: w, ratio: fileD.processedPerS / code.processedPerS }] : [];
    });
    for (const r of fileVsCode)
      log(`  file source ÷ Mailgun code source, ${r.workers} worker(s): ${r.ratio.toFixed(2)}`);
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
      drains,
      fileVsCode,
      rates: rates.map(({ samples: _s, ...r }) => r),
    });
    const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
    const md = [
      row([
        'run',
        'source',
        'workers',
        'raw starts/s',
        'drain processed/s',
        '÷ raw',
        'history events/event',
        'CPU ms/event workers / server',
        'server CPU ms/ack',
        'cores busy (machine / workers / server)',
        'load avg',
      ]),
      row(Array.from({ length: 11 }, () => '---')),
      ...drains.map((d) =>
        row([
          o.label,
          d.source,
          String(d.workers),
          raw.toFixed(0),
          f1(d.processedPerS),
          (d.processedPerS / raw).toFixed(2),
          f1(d.historyEventsPerEvent),
          `${f1(d.cpuMsPerEvent.worker)} / ${f1(d.cpuMsPerEvent.server)}`,
          f1(d.serverCpuMsPerAck),
          `${d.machine.busyCores.toFixed(2)} / ${d.machine.workerCores.toFixed(2)} / ${d.machine.serverCores.toFixed(2)}`,
          d.machine.loadAverage1m.toFixed(1),
        ]),
      ),
    ];
    const parts = drains.filter((d) => d.serverCpuMsPerEventByPart);
    if (parts.length > 0) {
      const keys = Object.keys(parts[0]!.serverCpuMsPerEventByPart!);
      md.push(
        '',
        row(['workers', ...keys.map((k) => `${k} ms/event`)]),
        row(['---', ...keys.map(() => '---')]),
      );
      for (const d of parts)
        md.push(row([String(d.workers), ...keys.map((k) => f1(d.serverCpuMsPerEventByPart![k]!))]));
    }
    if (rates.length > 0) {
      md.push(
        '',
        row(rates.map((e) => `${e.rate}/s p50 / p99 ms, slope/s`)),
        row(rates.map(() => '---')),
        row(
          rates.map(
            (e) =>
              `${e.receivedToProcessed.p50.toFixed(0)} / ${e.receivedToProcessed.p99.toFixed(0)}, ${e.backlogSlopePerS.toFixed(2)}`,
          ),
        ),
      );
    }
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
