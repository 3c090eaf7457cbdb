/**
 * `npm run bench`: one orchestrated run of every scenario at the same concurrency levels, against
 * the Temporal dev server and against the Temporal server on PostgreSQL. Starts everything it needs
 * (Temporal, databases, the servers under test as child processes), writes
 * bench/results/load-<timestamp>.json (and latest-load.json) and bench/results/chart.svg, and updates BENCHMARKS.md.
 * See BENCHMARKS.md for what each scenario is and `npm run bench -- --help` for the flags.
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { renderChart } from './lib/chart';
import { ROOT, startHttpChild, type Child } from './lib/children';
import { runRawStarts } from './lib/raw-start';
import { runEndToEnd } from './lib/e2e';
import { startApiProcess, taskQueue, type IntakeSetup } from './lib/intake-procs';
import { httpLoad, type RunResult } from './lib/load';
import { signedBodies } from './lib/mailgun-bodies';
import { createDatabase, type BenchDatabase } from './lib/postgres';
import { renderResults, updateBenchmarksMd } from './lib/report';
import { SCENARIOS, writeResultFile, type BackendResult, type BenchRun, type Scenario } from './lib/results';
import { startDevBackend, startPostgresBackend, type TemporalBackend } from './lib/temporal';

interface Options {
  duration: number;
  warmup: number;
  levels: number[];
  e2eDuration: number;
  e2eConnections: number;
  e2eRate?: number;
  drainTimeout: number;
  backends: ('dev' | 'postgres')[];
  scenarios: (Scenario | 'e2e')[];
  installTimeout: number;
  env: Record<string, string>;
  apiProcesses: number;
  report: boolean;
  /** Re-render BENCHMARKS.md and the chart from this results file; run nothing. */
  reportOnly?: string;
}

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function parseOptions(): Options {
  const p = new Command('bench')
    .description('Intake benchmark: HTTP ceiling, raw starts, naive, Intake, RabbitMQ, end to end')
    .option('--duration <s>', 'seconds per scenario and concurrency level', '10')
    .option('--warmup <s>', 'warm-up seconds before each measured run (not recorded)', '1')
    .option('--levels <list>', 'concurrency levels', '16,64,256')
    .option('--e2e-duration <s>', 'seconds of load in the end-to-end run', '60')
    .option('--e2e-connections <n>', 'concurrency of the end-to-end run', '64')
    .option('--e2e-rate <n>', 'fixed arrival rate for end to end, events/s (default: closed loop)')
    .option('--drain-timeout <s>', 'longest wait for the end-to-end backlog to drain', '45')
    .option('--backends <list>', 'dev,postgres', 'dev,postgres')
    .option('--scenarios <list>', `${SCENARIOS.join(',')},e2e`, [...SCENARIOS, 'e2e'].join(','))
    .option('--install-timeout <s>', 'longest wait for go install of the Temporal server', '900')
    .option('--env <KEY=VALUE...>', 'extra environment for intake api/worker (tuning experiments)')
    .option('--api-processes <n>', 'intake api processes sharing the port (node:cluster)', '1')
    .option('--quick', 'smoke run: 3 s per run, 1 s warm-up, levels 16,64, e2e 10 s')
    .option('--no-report', 'do not update BENCHMARKS.md and the chart (results JSON only)')
    .option('--report-only <json>', 're-render BENCHMARKS.md and the chart from a results file')
    .parse(process.argv);
  const o = p.opts<Record<string, string | string[] | boolean | undefined>>();
  const quick = o.quick === true;
  const env: Record<string, string> = {};
  for (const kv of (o.env as string[] | undefined) ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--env expects KEY=VALUE, got ${kv}`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const given = (name: string) => p.getOptionValueSource(name) === 'cli';
  return {
    duration: quick && !given('duration') ? 3 : Number(o.duration),
    warmup: quick && !given('warmup') ? 1 : Number(o.warmup),
    levels: quick && !given('levels') ? [16, 64] : list(o.levels as string).map(Number),
    e2eDuration: quick && !given('e2eDuration') ? 10 : Number(o.e2eDuration),
    e2eConnections: Number(o.e2eConnections),
    e2eRate: o.e2eRate ? Number(o.e2eRate) : undefined,
    drainTimeout: Number(o.drainTimeout),
    backends: list(o.backends as string) as Options['backends'],
    scenarios: list(o.scenarios as string) as Options['scenarios'],
    installTimeout: Number(o.installTimeout),
    env,
    apiProcesses: Number(o.apiProcesses),
    report: o.report !== false,
    reportOnly: o.reportOnly as string | undefined,
  };
}

const log = (l: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);

function machine(): BenchRun['machine'] {
  const sh = (c: string) => {
    try {
      return execSync(c, { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  const mem = sh('free -h').split('\n')[1]?.trim().split(/\s+/) ?? [];
  return {
    nproc: Number(sh('nproc')),
    cpu: os.cpus()[0]?.model ?? '?',
    memory: mem.length > 1 ? `${mem[1]} total, ${mem[6] ?? '?'} available` : '?',
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

/** The servers under test for one backend; started once, measured level by level. */
interface Targets {
  hello?: { child: Child; url: string };
  naive?: { child: Child; url: string };
  intake?: { child: Child; url: string; db: BenchDatabase };
  rabbit?: { child: Child; url: string };
}

async function runRaw(backend: TemporalBackend, c: number, o: Options, logDir: string): Promise<RunResult> {
  const r = await runRawStarts({
    address: backend.address,
    concurrency: c,
    durationS: o.duration,
    warmupS: o.warmup,
    logDir,
  });
  return {
    total: r.total,
    rps: r.rps,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: 0,
    durationS: r.durationS,
  };
}

async function measure(
  s: Scenario,
  c: number,
  t: Targets,
  backend: TemporalBackend,
  o: Options,
  logDir: string,
): Promise<RunResult> {
  if (s === 'raw') return runRaw(backend, c, o, logDir);
  const target = t[s];
  if (!target) throw new Error(`${s} is not running`);
  const signed = s === 'intake';
  const bodiesFor = (seconds: number) => (signed ? signedBodies(Math.max(5000, seconds * 2500)) : undefined);
  if (o.warmup > 0) {
    await httpLoad({ url: target.url, connections: c, durationS: o.warmup, bodies: bodiesFor(o.warmup) });
  }
  const r = await httpLoad({
    url: target.url,
    connections: c,
    durationS: o.duration,
    bodies: bodiesFor(o.duration),
  });
  if (r.bodiesSignedDuringRun > 0) log(`  (${r.bodiesSignedDuringRun} bodies were signed during the run)`);
  return r;
}

async function benchBackend(
  backend: TemporalBackend,
  o: Options,
  logDir: string,
  withTemporalFree: boolean,
): Promise<BackendResult> {
  const result: BackendResult = { kind: backend.kind, label: backend.label, measurements: [] };
  const t: Targets = {};
  const want = (s: Scenario | 'e2e') => o.scenarios.includes(s);
  const temporalEnv = { TEMPORAL_ADDRESS: backend.address };
  try {
    if (withTemporalFree && want('hello'))
      t.hello = await startHttpChild('hello', 'bench/scenarios/hello.ts', {}, logDir);
    if (withTemporalFree && want('rabbit'))
      t.rabbit = await startHttpChild(
        'rabbit',
        'bench/scenarios/rabbit.ts',
        { BENCH_QUEUE: taskQueue('bench-intake') },
        logDir,
      );
    if (want('naive'))
      t.naive = await startHttpChild(
        'naive',
        'bench/scenarios/naive.ts',
        { ...temporalEnv, BENCH_TASK_QUEUE: taskQueue('bench-naive') },
        logDir,
      );
    if (want('intake')) {
      const db = await createDatabase('intake_bench');
      const setup: IntakeSetup = {
        temporalAddress: backend.address,
        databaseUrl: db.url,
        taskQueue: taskQueue('bench-ingest'),
        logDir,
        env: o.env,
        apiProcesses: o.apiProcesses,
      };
      const api = await startApiProcess(setup, `intake-api-${backend.kind}`);
      t.intake = { ...api, db };
    }
    // Round-robin by level, so any drift of the server (its database grows) touches every scenario.
    for (const c of o.levels) {
      for (const s of SCENARIOS) {
        if (!want(s) || (s !== 'raw' && !t[s])) continue;
        const r = await measure(s, c, t, backend, o, logDir);
        result.measurements.push({ scenario: s, concurrency: c, ...r });
        log(
          `  ${backend.kind} ${s.padEnd(6)} c=${String(c).padStart(3)}: ${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(
            1,
          )} ms, p99 ${r.p99.toFixed(1)} ms, errors ${r.errors}, non-2xx ${r.non2xx}`,
        );
      }
    }
    result.peakRssIngestApiBytes = t.intake?.child.peakRss();
  } finally {
    for (const x of [t.hello, t.naive, t.rabbit, t.intake]) await x?.child.stop();
    await t.intake?.db.drop();
  }
  if (want('e2e')) {
    log(`  ${backend.kind} end to end: ${o.e2eDuration} s at ${o.e2eConnections} connections`);
    result.e2e = await runEndToEnd({
      temporalAddress: backend.address,
      logDir,
      connections: o.e2eConnections,
      rate: o.e2eRate,
      warmupS: o.warmup,
      durationS: o.e2eDuration,
      drainTimeoutS: o.drainTimeout,
      env: o.env,
      apiProcesses: o.apiProcesses,
      log,
    });
    const e = result.e2e;
    log(
      `  ${backend.kind} e2e: ${Math.round(e.ingestRps)} ingest/s, ${Math.round(e.processedRpsDuringLoad)} processed/s, ` +
        `backlog +${e.backlogSlopePerS.toFixed(1)}/s, received→processed p50 ${Math.round(
          e.receivedToProcessed.p50,
        )} ms p99 ${Math.round(e.receivedToProcessed.p99)} ms, unprocessed ${e.unprocessed}`,
    );
  }
  return result;
}

async function writeReport(run: BenchRun, jsonFile: string): Promise<void> {
  const chartFile = path.join(ROOT, 'bench', 'results', 'chart.svg');
  fs.writeFileSync(chartFile, await renderChart(run));
  await updateBenchmarksMd(
    path.join(ROOT, 'BENCHMARKS.md'),
    renderResults(run, path.relative(ROOT, jsonFile), path.relative(ROOT, chartFile)),
  );
  log(`updated BENCHMARKS.md and ${path.relative(ROOT, chartFile)}`);
}

async function main(): Promise<void> {
  const o = parseOptions();
  if (o.reportOnly) {
    const file = path.resolve(o.reportOnly);
    return writeReport(JSON.parse(fs.readFileSync(file, 'utf8')) as BenchRun, file);
  }
  const started = new Date();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-'));
  log(
    `bench: logs in ${logDir}; levels ${o.levels.join(',')}, ${o.duration} s each, backends ${o.backends.join(',')}`,
  );
  const run: BenchRun = {
    startedAt: started.toISOString(),
    finishedAt: '',
    wallS: 0,
    machine: machine(),
    options: {
      durationS: o.duration,
      warmupS: o.warmup,
      levels: o.levels,
      e2eDurationS: o.e2eDuration,
      e2eConnections: o.e2eConnections,
      env: o.env,
      apiProcesses: o.apiProcesses,
    },
    backends: [],
    skipped: [],
    notes: [],
  };
  let first = true;
  for (const kind of o.backends) {
    let backend: TemporalBackend | undefined;
    try {
      log(`starting ${kind} backend…`);
      backend =
        kind === 'dev'
          ? await startDevBackend(path.join(logDir, 'temporal-dev'))
          : await startPostgresBackend({ logDir, log, installTimeoutMs: o.installTimeout * 1000 });
    } catch (err) {
      const reason = (err as Error).message;
      log(`  ${kind} backend not available: ${reason}`);
      run.skipped.push({ kind, reason });
      continue;
    }
    activeBackend = backend;
    try {
      run.backends.push(await benchBackend(backend, o, logDir, first));
      first = false;
    } finally {
      activeBackend = undefined;
      await backend.stop();
    }
  }
  if (run.backends.length > 1) {
    run.notes.push(
      'The HTTP ceiling (a) and RabbitMQ (e) do not use Temporal; they run once, in the first backend block.',
    );
  }
  run.finishedAt = new Date().toISOString();
  run.wallS = (Date.now() - started.getTime()) / 1000;
  const jsonFile = writeResultFile('load', run, started);
  log(`results: ${path.relative(ROOT, jsonFile)}`);
  if (o.report) await writeReport(run, path.join(path.dirname(jsonFile), 'latest-load.json'));
  if (run.skipped.length === 0) fs.rmSync(logDir, { recursive: true, force: true });
  else log(`logs kept in ${logDir}`);
}

// The Temporal server runs in its own process group: stop it on Ctrl-C instead of orphaning it.
let activeBackend: TemporalBackend | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void (activeBackend?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
