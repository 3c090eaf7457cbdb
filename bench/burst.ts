/**
 * `npm run bench:burst`: a burst of `--connections` simultaneous senders (default 1,000), in one run
 * on one Temporal dev server and the local PostgreSQL, so the ratios hold on a busy machine:
 *  1. raw starts/s: the raw-start scenario (no HTTP) with `--connections` starts in flight;
 *  2. HTTP ceiling: express hello-world under the same burst (is the load generator the limit?);
 *  3. express → RabbitMQ (durable queue, persistent messages, publisher confirms): the burst;
 *  4. Intake: `intake api` (PostgreSQL store) + one `intake worker`, the burst of distinct signed
 *     Mailgun events; then until every acknowledged event settled, and each one classified as
 *     processed exactly once, pending, lost or doubled (bench/lib/chaos-check.ts).
 * Every burst sends `--events` requests over `--connections` keep-alive connections (autocannon,
 * pipelining 1, each connection sends its next request when the answer arrives). Ports come from
 * `--port-base` (Temporal +0, intake api +10, RabbitMQ endpoint +20, hello-world +30).
 * Writes bench/results/burst-<timestamp>.json (and latest-burst.json) and prints a markdown table for BENCHMARKS.md.
 *
 *   npm run bench:burst -- --connections 1000 --events 5000
 */
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import pg from 'pg';
import { checkExactlyOnce, waitForDrain, type ExactlyOnceCheck } from './lib/chaos-check';
import type { LoadStats } from './lib/chaos-load';
import { envPairs, startHttpChild, type Child } from './lib/children';
import { runRawStarts } from './lib/raw-start';
import { prebuiltBundleEnv, startApiProcess, startWorkerProcess, taskQueue } from './lib/intake-procs';
import { httpLoad } from './lib/load';
import { signedBodies, type SignedBody } from './lib/mailgun-bodies';
import { createDatabase } from './lib/postgres';
import { writeResultFile } from './lib/results';
import { summarize } from './lib/stats';
import { startDevBackend } from './lib/temporal';

interface BurstOptions {
  connections: number;
  events: number;
  rawDurationS: number;
  portBase: number;
  stallS: number;
  scenarios: string[];
  env: Record<string, string>;
  label: string;
  /** Write a CPU profile of the `intake api` process into this folder. */
  profileDir?: string;
  /** `intake api` processes sharing the port (node:cluster). */
  apiProcesses: number;
  /** Wait for every acknowledged event to settle and classify it (false: tuning runs, ack rate only). */
  check: boolean;
}

/** One burst against one HTTP endpoint. */
interface BurstResult {
  /** Requests answered 2xx. */
  acked: number;
  /** acked / seconds from the first request sent to the last answer. */
  acksPerS: number;
  wallS: number;
  statusCodes: Record<string, number>;
  /** Connection errors and timeouts. */
  errors: number;
  p50: number;
  p99: number;
  /**
   * Ack latency p50/p99 (ms, from the bench's clock) of the requests sent in the burst's first
   * second (each connection's first request: connection set-up and the cold server) and after it.
   */
  firstSecond?: { n: number; p50: number; p99: number };
  later?: { n: number; p50: number; p99: number };
}

interface IntakeBurst extends BurstResult {
  /** intake_spooled_total and intake_workflow_starts_total of the API after the burst. */
  spooled: Record<string, number>;
  startedDirectly: number;
  settleS: number;
  /** Absent when the run was told not to check (`--no-check`). */
  check?: Omit<ExactlyOnceCheck, 'pending' | 'lost' | 'doubled'> & {
    pending: number;
    lost: number;
    doubled: number;
  };
  spoolDepthAfter: number;
}

const log = (l: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);
const load = () =>
  os
    .loadavg()
    .map((v) => v.toFixed(1))
    .join(' ');

function parse(): BurstOptions {
  const o = new Command('bench:burst')
    .option('--connections <n>', 'simultaneous connections (and raw starts in flight)', '1000')
    .option('--events <n>', 'requests per burst, spread over the connections', '5000')
    .option('--raw-duration <s>', 'seconds of raw starts', '10')
    .option('--port-base <n>', 'first of the ports used (Temporal, API +10, RabbitMQ +20, hello +30)', '7700')
    .option('--stall <s>', 'settling ends when the backlog made no progress for this long', '120')
    .option(
      '--scenarios <list>',
      'raw,hello,rabbit,intake,intake-2 (two API processes)',
      'raw,hello,rabbit,intake',
    )
    .option('--env <KEY=VALUE...>', 'extra environment for intake api/worker (tuning experiments)')
    .option('--label <text>', 'what this run measures (e.g. the commit)', '')
    .option('--profile-dir <dir>', 'write a CPU profile (.cpuprofile) of intake api here')
    .option('--api-processes <n>', 'intake api processes sharing the port (node:cluster)', '1')
    .option('--no-check', 'do not wait for processing nor classify events (tuning runs: ack rate only)')
    .parse(process.argv)
    .opts<Record<string, string | string[] | undefined>>();
  const env = envPairs(o.env as string[] | undefined);
  return {
    connections: Number(o.connections),
    events: Number(o.events),
    rawDurationS: Number(o.rawDuration),
    portBase: Number(o.portBase),
    stallS: Number(o.stall),
    scenarios: String(o.scenarios).split(',').filter(Boolean),
    env,
    label: String(o.label ?? ''),
    profileDir: o.profileDir as string | undefined,
    apiProcesses: Number(o.apiProcesses),
    check: (o.check as unknown) !== false,
  };
}

async function rawStarts(address: string, o: BurstOptions, logDir: string): Promise<BurstResult> {
  const r = await runRawStarts({
    address,
    concurrency: o.connections,
    durationS: o.rawDurationS,
    bodiesPerS: 1000,
    logDir,
  });
  return {
    acked: r.total,
    acksPerS: r.rps,
    wallS: r.durationS,
    statusCodes: {},
    errors: r.errors,
    p50: r.latency.p50,
    p99: r.latency.p99,
  };
}

/**
 * Sends every body once over `connections` connections; returns the answers and, per body, when it
 * was sent and when it was acknowledged (2xx).
 */
async function burst(
  url: string,
  bodies: SignedBody[],
  connections: number,
): Promise<{ result: BurstResult; acked: LoadStats['acked'] }> {
  const sentAt = new Map<string, number>();
  const acked: LoadStats['acked'] = new Map();
  let first = Infinity;
  let last = 0;
  const r = await httpLoad({
    url,
    connections,
    durationS: 0,
    amount: bodies.length,
    bodies,
    timeoutS: 120,
    onSend: (b) => {
      const now = Date.now();
      first = Math.min(first, now);
      sentAt.set(b.id, now);
    },
    onAnswer: (b, status) => {
      const now = Date.now();
      last = Math.max(last, now);
      if (status >= 200 && status < 300)
        acked.set(b.id, { firstSentAt: sentAt.get(b.id) ?? now, ackedAt: now, attempts: 1 });
    },
  });
  if (r.bodiesSignedDuringRun > 0) throw new Error('the burst sent more requests than bodies');
  const wallS = Math.max(0.001, (last - first) / 1000);
  const early: number[] = [];
  const late: number[] = [];
  for (const a of acked.values())
    (a.firstSentAt - first < 1000 ? early : late).push(a.ackedAt - a.firstSentAt);
  const part = (l: number[]) => {
    const s = summarize(l);
    return { n: l.length, p50: s.p50, p99: s.p99 };
  };
  return {
    result: {
      acked: r.total,
      acksPerS: r.total / wallS,
      wallS,
      statusCodes: r.statusCodes ?? {},
      errors: r.errors,
      p50: r.p50,
      p99: r.p99,
      firstSecond: part(early),
      later: part(late),
    },
    acked,
  };
}

async function endpointBurst(
  name: string,
  script: string,
  port: number,
  env: Record<string, string>,
  o: BurstOptions,
  logDir: string,
): Promise<BurstResult> {
  const target = await startHttpChild(name, script, env, logDir, port);
  try {
    const { result } = await burst(target.url, signedBodies(o.events), o.connections);
    return result;
  } finally {
    await target.child.stop();
  }
}

/** Sums the samples of one counter in a Prometheus text exposition, by one label. */
function counterBy(text: string, name: string, label?: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${name}(\\{[^}]*\\})? ([0-9.e+]+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    const key = label ? (new RegExp(`${label}="([^"]*)"`).exec(m[1] ?? '')?.[1] ?? '') : 'all';
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}

async function intakeBurst(address: string, o: BurstOptions, logDir: string): Promise<IntakeBurst> {
  const db = await createDatabase('burst_bench');
  const tq = taskQueue('bench-burst');
  const setup = {
    temporalAddress: address,
    databaseUrl: db.url,
    taskQueue: tq,
    logDir,
    env: { ...(await prebuiltBundleEnv(logDir)), INTAKE_WORKER_METRICS_PORT: '0', ...o.env },
    apiProcesses: o.apiProcesses,
    apiNodeArgs: o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : undefined,
  };
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  let api: Awaited<ReturnType<typeof startApiProcess>> | undefined;
  let worker: Child | undefined;
  try {
    api = await startApiProcess(setup, 'burst-api', o.portBase + 10);
    worker = await startWorkerProcess(setup, 'burst-worker');
    const { result, acked } = await burst(api.url, signedBodies(o.events), o.connections);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    const spooled = counterBy(metrics, 'intake_spooled_total', 'reason');
    const startedDirectly =
      (counterBy(metrics, 'intake_workflow_starts_total').all ?? 0) -
      (counterBy(metrics, 'intake_spool_relayed_total', 'outcome').started ?? 0);
    log(
      `  intake: ${result.acked} acked in ${result.wallS.toFixed(1)} s; spooled ${JSON.stringify(spooled)}, ` +
        `started directly ${startedDirectly}${o.apiProcesses > 1 ? ' (counters of one API process)' : ''}; ` +
        `settling (load ${load()})`,
    );
    if (!o.check) return { ...result, spooled, startedDirectly, settleS: 0, spoolDepthAfter: -1 };
    const t0 = Date.now();
    const drain = await waitForDrain(pool, [...acked.keys()], log, o.stallS * 1000);
    const settleS = (Date.now() - t0) / 1000;
    const check = await checkExactlyOnce(pool, { acked }, address, tq);
    const depth = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM start_spool');
    if (!drain.complete)
      log(`  intake: settling stopped with ${drain.backlogAtEnd} acknowledged events unprocessed`);
    return {
      ...result,
      spooled,
      startedDirectly,
      settleS,
      check: {
        ...check,
        pending: check.pending.length,
        lost: check.lost.length,
        doubled: check.doubled.length,
      },
      spoolDepthAfter: depth.rows[0]?.n ?? -1,
    };
  } finally {
    await worker?.stop();
    await api?.child.stop();
    await pool.end();
    await db.drop();
  }
}

const f0 = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 0 });
const codes = (c: Record<string, number>) => ({
  ok: Object.entries(c).reduce((a, [k, v]) => a + (k.startsWith('2') ? v : 0), 0),
  s503: c['503'] ?? 0,
  other: Object.entries(c).reduce((a, [k, v]) => a + (k.startsWith('2') || k === '503' ? 0 : v), 0),
});

function markdown(o: BurstOptions, r: Record<string, BurstResult | IntakeBurst | undefined>): string {
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const rabbit = r.rabbit?.acksPerS;
  const raw = r.raw?.acksPerS;
  const lines = [
    row([
      'scenario',
      'acks/s',
      '2xx',
      '503',
      'other / errors',
      'p50 ms',
      'p99 ms',
      '÷ RabbitMQ',
      '÷ raw',
      'exactly once / lost / doubled / pending',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  const names: Record<string, string> = {
    raw: `raw Temporal starts, ${o.connections} in flight (no HTTP)`,
    hello: 'HTTP ceiling: express hello-world',
    rabbit: 'express → RabbitMQ, durable + confirms',
    intake: `Intake: \`intake api\` ×${o.apiProcesses} (PostgreSQL) + 1 worker`,
    'intake-2': 'Intake: `intake api` ×2 (node:cluster, PostgreSQL) + 1 worker',
  };
  for (const [k, v] of Object.entries(r)) {
    if (!v) continue;
    const c = codes(v.statusCodes);
    const i = 'check' in v ? v.check : undefined;
    lines.push(
      row([
        names[k] ?? k,
        f0(v.acksPerS),
        k === 'raw' ? `${f0(v.acked)} starts` : f0(c.ok),
        k === 'raw' ? '–' : f0(c.s503),
        k === 'raw' ? f0(v.errors) : `${f0(c.other)} / ${f0(v.errors)}`,
        f0(v.p50),
        f0(v.p99),
        rabbit ? (v.acksPerS / rabbit).toFixed(2) : '–',
        raw ? (v.acksPerS / raw).toFixed(2) : '–',
        i ? `${i.exactlyOnce} / ${i.lost} / ${i.doubled} / ${i.pending}` : '–',
      ]),
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parse();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-burst-'));
  let ulimit = '?';
  try {
    ulimit = execSync('ulimit -n', { encoding: 'utf8', shell: '/bin/bash' }).trim();
  } catch {
    // reported as unknown
  }
  log(
    `burst bench: ${o.connections} connections, ${o.events} events; ulimit -n ${ulimit}; logs in ${logDir}`,
  );
  const loads: Record<string, string> = { start: load() };
  const results: Record<string, BurstResult | IntakeBurst | undefined> = {};
  const backend = await startDevBackend(path.join(logDir, 'temporal'), o.portBase);
  const started = new Date();
  try {
    if (o.scenarios.includes('raw')) {
      results.raw = await rawStarts(backend.address, o, logDir);
      loads.raw = load();
      log(
        `  raw starts: ${results.raw.acksPerS.toFixed(1)}/s with ${o.connections} in flight (load ${loads.raw})`,
      );
    }
    if (o.scenarios.includes('hello')) {
      results.hello = await endpointBurst(
        'hello',
        'bench/scenarios/hello.ts',
        o.portBase + 30,
        {},
        o,
        logDir,
      );
      loads.hello = load();
      log(`  hello: ${results.hello.acksPerS.toFixed(0)}/s ${JSON.stringify(results.hello.statusCodes)}`);
    }
    if (o.scenarios.includes('rabbit')) {
      results.rabbit = await endpointBurst(
        'rabbit',
        'bench/scenarios/rabbit.ts',
        o.portBase + 20,
        { BENCH_QUEUE: `bench-burst-${randomBytes(4).toString('hex')}` },
        o,
        logDir,
      );
      loads.rabbit = load();
      log(`  rabbit: ${results.rabbit.acksPerS.toFixed(0)}/s ${JSON.stringify(results.rabbit.statusCodes)}`);
    }
    // `intake`: the API as configured (--api-processes, default 1); `intake-2`: two API processes.
    for (const name of ['intake', 'intake-2'] as const) {
      if (!o.scenarios.includes(name)) continue;
      const apiProcesses = name === 'intake-2' ? 2 : o.apiProcesses;
      const i = await intakeBurst(backend.address, { ...o, apiProcesses }, logDir);
      results[name] = i;
      loads[name] = load();
      log(
        `  ${name}: ${i.acksPerS.toFixed(0)}/s ${JSON.stringify(i.statusCodes)} p50 ${i.p50} p99 ${i.p99}; ` +
          (i.check
            ? `settled in ${i.settleS.toFixed(0)} s: ${i.check.exactlyOnce} exactly once, ${i.check.lost} lost, ` +
              `${i.check.doubled} doubled, ${i.check.pending} pending, spool depth ${i.spoolDepthAfter}`
            : 'not checked (--no-check)'),
      );
    }
  } finally {
    await backend.stop();
  }
  const out = writeResultFile(
    'burst',
    { label: o.label, options: o, ulimit, loadavg: loads, results },
    started,
  );
  process.stdout.write(
    `\n${markdown(o, results)}\n\nload average (1/5/15 min): ${JSON.stringify(loads)}\nresults: ${out}\n`,
  );
  fs.rmSync(logDir, { recursive: true, force: true });
  for (const i of [results.intake, results['intake-2']] as (IntakeBurst | undefined)[]) {
    if (i && ((i.check?.lost ?? 0) > 0 || (i.check?.doubled ?? 0) > 0 || codes(i.statusCodes).s503 > 0))
      process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:burst: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
