/**
 * `npm run drill:cluster`: Intake on a multi-service Temporal cluster, under faults. Temporal
 * v1.29.1 runs as separate processes (frontend, two history, two matching, worker; 4 history
 * shards) on the drill's own PostgreSQL cluster (initdb in a temporary folder, never the shared
 * server), with two `intake api` and two `intake worker` processes and a bounded signed load
 * (default 20 events/s for 90 s) spread over both APIs as a load balancer would. In turn it
 * kill -9's one matching process, one history process (each restarted after a few seconds), one
 * API and one worker (restarted at once). Then it drains and classifies every acknowledged event
 * with the chaos harness (processed exactly once, pending, lost, doubled), and reports per fault
 * the refusals (503 and connection errors), the longest gap between acknowledgements and between
 * processed events, and the start spool's use. Exit 1 on any lost or doubled event. Too slow and
 * too heavy for CI; writes bench/results/drill-cluster-<timestamp>.json and the generated part of
 * RELIABILITY.md ("Multi-service cluster drill").
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import pg from 'pg';
import { startLoad, type LoadStats } from './lib/chaos-load';
import { checkExactlyOnce, failureReasons, waitForDrain } from './lib/chaos-check';
import { freePort, ROOT, sleep, type Child } from './lib/children';
import { startClusterStack } from './lib/cluster-stack';
import {
  prebuiltBundleEnv,
  startApiProcess,
  startWorkerProcess,
  taskQueue,
  type IntakeSetup,
} from './lib/intake-procs';
import { replaceGeneratedBlock } from './lib/markdown';

const log = (l: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);

type FaultKind = 'matching' | 'history' | 'api' | 'worker';

/** One fault and what the clients and the pipeline saw around it. */
interface DrillFault {
  kind: FaultKind;
  target: string;
  /** Seconds into the load. */
  atS: number;
  /** kill -9 → replacement process started (and, for API and worker, serving or polling). */
  downS: number;
  /** 503 answers from the fault until the next fault (or the end of the load). */
  unavailable503: number;
  /** Connection errors in the same window (the killed API's in-flight and refused requests). */
  connectionErrors: number;
  /** Longest time without any acknowledgement in that window. */
  longestAckGapS: number;
  /** Longest time without any processed event in that window. */
  longestProcessingGapS: number;
}

function parseOptions() {
  const p = new Command('drill-cluster')
    .description('Intake on a multi-service Temporal cluster under process faults')
    .option('--duration <s>', 'seconds of load', '90')
    .option('--rate <n>', 'new events per second', '20')
    .option('--senders <n>', 'concurrent senders', '20')
    .option('--down <s>', 'seconds a killed Temporal process stays down', '5')
    .option('--stall <s>', 'fail when the backlog makes no progress for this long', '90')
    .option('--no-report', 'do not update RELIABILITY.md')
    .parse(process.argv);
  const o = p.opts<Record<string, string | boolean>>();
  return {
    durationS: Number(o.duration),
    rate: Number(o.rate),
    senders: Number(o.senders),
    downS: Number(o.down),
    stallS: Number(o.stall),
    report: o.report !== false,
  };
}

const cleanups: (() => Promise<void>)[] = [];
async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
}

/** Sums a counter (all label sets) and reads a gauge from Prometheus text. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** Polls every API's /metrics: events spooled (per process incarnation) and the deepest spool seen. */
function watchSpool(apis: () => { name: string; url: string }[]) {
  const spooledBy = new Map<string, number>();
  let maxDepth = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const a of apis()) {
        try {
          const text = await (await fetch(`${a.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
          spooledBy.set(a.name, metric(text, 'intake_spooled_total'));
          maxDepth = Math.max(maxDepth, metric(text, 'intake_spool_depth'));
        } catch {
          // a killed API: its last reading stays
        }
      }
      await sleep(1000);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { spooled: [...spooledBy.values()].reduce((a, b) => a + b, 0), maxDepth };
    },
  };
}

function longestGap(times: number[], from: number, to: number): number {
  let prev = from;
  let gap = 0;
  for (const t of times) {
    if (t < from) continue;
    if (t > to) break;
    gap = Math.max(gap, t - prev);
    prev = t;
  }
  return Math.max(gap, to - prev) / 1000;
}

async function main(): Promise<void> {
  const o = parseOptions();
  const started = Date.now();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-drill-'));
  log(`drill: ${o.durationS} s at ${o.rate}/s on a multi-service Temporal cluster; logs in ${logDir}`);

  const stack = await startClusterStack({ logDir, log, history: 2, matching: 2 });
  cleanups.push(() => stack.stop());
  const temporal = stack.temporal;
  const intakeDb = await stack.createDatabase('intake');
  const pool = new pg.Pool({ connectionString: intakeDb, max: 2 });
  pool.on('error', () => undefined);
  cleanups.push(() => pool.end());

  const setup: IntakeSetup = {
    temporalAddress: temporal.address,
    databaseUrl: intakeDb,
    taskQueue: taskQueue('drill'),
    logDir,
    env: {
      INTAKE_RETRY_MAX_ATTEMPTS: '1000',
      INTAKE_RETRY_INITIAL_INTERVAL_MS: '200',
      INTAKE_RETRY_MAX_INTERVAL_MS: '2000',
      INTAKE_ACTIVITY_TIMEOUT_MS: '5000',
      INTAKE_START_TIMEOUT_MS: '3000',
      ...(await prebuiltBundleEnv(logDir)),
    },
  };
  const ports = [await freePort(), await freePort()];
  const apis: { name: string; child: Child; url: string; port: number }[] = [];
  for (const [i, port] of ports.entries()) {
    const name = `api-${i + 1}`;
    apis.push({ name, ...(await startApiProcess(setup, name, port)) });
  }
  const workers: Child[] = [];
  for (let i = 1; i <= 2; i++) workers.push(await startWorkerProcess(setup, `worker-${i}`));
  cleanups.push(async () => {
    for (const c of [...apis.map((a) => a.child), ...workers]) await c.stop();
  });
  log(`ready after ${((Date.now() - started) / 1000).toFixed(1)} s: 2 APIs, 2 workers; load starts`);

  // A restarted API's counters start at 0: its readings are kept apart from its predecessor's.
  const incarnations = apis.map(() => 0);
  const spool = watchSpool(() => apis.map((a, i) => ({ name: `${a.name}#${incarnations[i]}`, url: a.url })));
  const load = startLoad({
    url: apis.map((a) => a.url),
    senders: o.senders,
    rate: o.rate,
    messages: 200,
    giveUpAfterStopMs: 30_000,
  });
  const loadStart = Date.now();
  const plan: { f: number; kind: FaultKind }[] = [
    { f: 0.12, kind: 'matching' },
    { f: 0.34, kind: 'history' },
    { f: 0.56, kind: 'api' },
    { f: 0.76, kind: 'worker' },
  ];
  const marks: { kind: FaultKind; target: string; at: number; downS: number }[] = [];
  for (const step of plan) {
    const wait = loadStart + step.f * o.durationS * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    const at = Date.now();
    let target: string;
    if (step.kind === 'matching' || step.kind === 'history') {
      const p = temporal.get(step.kind, 1);
      target = `${p.name} (1 of 2)`;
      await p.kill9();
      await sleep(o.downS * 1000);
      await p.restart();
    } else if (step.kind === 'api') {
      const a = apis[0]!;
      target = `${a.name} (1 of 2)`;
      await a.child.kill9();
      incarnations[0]!++;
      Object.assign(a, await startApiProcess(setup, `${a.name}-r`, a.port));
    } else {
      target = 'worker-1 (1 of 2)';
      await workers[0]!.kill9();
      workers[0] = await startWorkerProcess(setup, 'worker-1-r');
    }
    const downS = (Date.now() - at) / 1000;
    marks.push({ kind: step.kind, target, at, downS });
    log(
      `fault: kill -9 ${target} at ${((at - loadStart) / 1000).toFixed(1)} s; replacement up after ${downS.toFixed(1)} s`,
    );
  }
  const remaining = loadStart + o.durationS * 1000 - Date.now();
  if (remaining > 0) await sleep(remaining);
  log('load stops; waiting for deliveries in flight');
  await load.stop();
  const loadEnd = Date.now();
  const s: LoadStats = load.stats;
  const spoolUse = await spool.stop();
  log(`${s.acked.size} acknowledged, ${s.givenUp.size} given up; draining`);
  const drain = await waitForDrain(pool, [...s.acked.keys()], log, o.stallS * 1000);
  const check = await checkExactlyOnce(pool, s, temporal.address, setup.taskQueue);

  const ackTimes = s.acks.map((a) => a.at).sort((a, b) => a - b);
  const faults: DrillFault[] = marks.map((m, i) => {
    const until = marks[i + 1]?.at ?? loadEnd;
    const inWindow = s.failures.filter((x) => x.at >= m.at && x.at < until);
    return {
      kind: m.kind,
      target: m.target,
      atS: (m.at - loadStart) / 1000,
      downS: m.downS,
      unavailable503: inWindow.filter((x) => x.status === '503').length,
      connectionErrors: inWindow.filter((x) => x.status === 'conn').length,
      longestAckGapS: longestGap(ackTimes, m.at, until),
      longestProcessingGapS: longestGap(drain.processedAt, m.at, until),
    };
  });
  await cleanup();

  const reasons = failureReasons(check, drain, o.stallS);
  const run = {
    startedAt: new Date(started).toISOString(),
    loadAverage: { start: loadAtStart, end: os.loadavg()[0] ?? 0 },
    wallS: (Date.now() - started) / 1000,
    options: o,
    cluster: 'frontend ×1, history ×2, matching ×2, worker ×1; numHistoryShards 4; private PostgreSQL',
    load: {
      sent: s.sent.size,
      acked: s.acked.size,
      givenUp: s.givenUp.size,
      answers: s.answers,
      durationS: (loadEnd - loadStart) / 1000,
    },
    spool: spoolUse,
    faults,
    drain: { ...drain, processedAt: undefined },
    check,
    verdict: reasons.length === 0 ? 'pass' : 'fail',
    failures: reasons,
  };
  const file = path.join(
    ROOT,
    'bench',
    'results',
    `drill-cluster-${run.startedAt.replace(/[:.]/g, '-')}.json`,
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(run, null, 2));
  if (o.report) await updateReliability(run, path.relative(ROOT, file));
  log(
    `drill ${run.verdict}${reasons.length ? ` (${reasons.join('; ')})` : ''}: ${s.acked.size} acked — ` +
      `${check.exactlyOnce} exactly once, ${check.pending.length} pending, ${check.lost.length} lost, ` +
      `${check.doubled.length} doubled; 503s ${s.answers['503'] ?? 0}, spooled ${spoolUse.spooled}, wall ${run.wallS.toFixed(0)} s`,
  );
  if (reasons.length === 0) fs.rmSync(logDir, { recursive: true, force: true });
  else log(`logs kept in ${logDir}`);
  process.exit(reasons.length === 0 ? 0 : 1);
}

const BEGIN = '<!-- drill:cluster:begin (generated by npm run drill:cluster; edits here are overwritten) -->';
const END = '<!-- drill:cluster:end -->';

async function updateReliability(
  run: {
    startedAt: string;
    wallS: number;
    loadAverage: { start: number; end: number };
    verdict: string;
    failures: string[];
    load: {
      sent: number;
      acked: number;
      givenUp: number;
      answers: Record<string, number>;
      durationS: number;
    };
    spool: { spooled: number; maxDepth: number };
    faults: DrillFault[];
    drain: { backlogAtStop: number; drainS: number; complete: boolean };
    check: Awaited<ReturnType<typeof checkExactlyOnce>>;
    options: { rate: number; senders: number; durationS: number };
  },
  jsonPath: string,
): Promise<void> {
  const f1 = (n: number) => n.toFixed(1);
  const c = run.check;
  const answers = Object.entries(run.load.answers)
    .sort()
    .map(([k, v]) => `${k === 'conn' ? 'connection error' : k === 'dup' ? '200 duplicate' : k}: ${v}`)
    .join(', ');
  const block = [
    BEGIN,
    '',
    `### Latest run: ${run.startedAt} — **${run.verdict === 'pass' ? 'PASS' : 'FAIL'}**${
      run.failures.length ? ` (${run.failures.join('; ')})` : ''
    }`,
    '',
    `\`npm run drill:cluster\`: ${f1(run.load.durationS)} s of load at ${run.options.rate} new events/s (${
      run.options.senders
    } senders over both APIs), wall ${f1(run.wallS)} s on ${os.cpus().length} cores, load average ${f1(run.loadAverage.start)} at the start and ${f1(run.loadAverage.end)} at the end (other work included). Raw: \`${jsonPath}\`.`,
    '',
    '| acknowledged | processed exactly once | pending | lost | doubled | counter mismatches | given up |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    `| ${run.load.acked} | ${c.exactlyOnce} | ${c.pending.length} | **${c.lost.length}** | **${c.doubled.length}** | ${c.counterMismatches} | ${run.load.givenUp} |`,
    '',
    `HTTP answers (every attempt): ${answers}. Start spool: ${run.spool.spooled} events acknowledged from the spool, deepest ${run.spool.maxDepth}. ` +
      `Backlog at load stop ${run.drain.backlogAtStop}, ${run.drain.complete ? 'drained' : 'NOT drained'} ${f1(run.drain.drainS)} s later.`,
    '',
    '| fault (kill -9) | at s | replacement up after s | 503s | connection errors | longest gap between acks s | longest gap between processed events s |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...run.faults.map(
      (f) =>
        `| ${f.target} | ${f1(f.atS)} | ${f1(f.downS)} | ${f.unavailable503} | ${f.connectionErrors} | ${f1(f.longestAckGapS)} | ${f1(f.longestProcessingGapS)} |`,
    ),
    '',
    END,
  ].join('\n');
  await replaceGeneratedBlock(
    path.join(ROOT, 'RELIABILITY.md'),
    BEGIN,
    END,
    block,
    'Multi-service cluster drill',
  );
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

main().catch(async (err: unknown) => {
  process.stderr.write(`drill: ${(err as Error).stack ?? String(err)}\n`);
  await cleanup();
  process.exit(1);
});
