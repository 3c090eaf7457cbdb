/**
 * `npm run chaos`: sustained signed load on Intake while the worker is kill -9'd repeatedly, the
 * Temporal server is kill -9'd and restarted on the same SQLite file, and the run's own PostgreSQL
 * cluster is restarted, with a failpoint failing 10 % of handler attempts. Then it waits while the
 * backlog drains and classifies every acknowledged event: processed exactly once, pending (still
 * running in Temporal), lost, or doubled. It exits 1 on any lost or doubled event, a counter
 * mismatch, or a backlog that stopped draining, and says which. Writes
 * bench/results/chaos-<timestamp>.json (and latest-chaos.json) and the generated part of RELIABILITY.md. `--short` is the
 * CI version (90 s of load).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import pg from 'pg';
import { startLoad } from './lib/chaos-load';
import { checkExactlyOnce, failureReasons, waitForDrain } from './lib/chaos-check';
import { freezeCluster, startPrivateCluster } from './lib/chaos-postgres';
import { renderReliability, updateReliabilityMd, type ChaosRun, type FaultRecord } from './lib/chaos-report';
import { freePort, ROOT, sleep, type Child } from './lib/children';
import {
  prebuiltBundleEnv,
  startApiProcess,
  startWorkerProcess,
  taskQueue,
  type IntakeSetup,
} from './lib/intake-procs';
import { writeResultFile } from './lib/results';
import { temporalCli } from './lib/temporal';
import { startDevServer, type DevServer } from '../src/dev/dev-server';

type FaultKind = FaultRecord['kind'];
const ALL_FAULTS: FaultKind[] = ['worker', 'temporal', 'postgres', 'api', 'freeze', 'both'];

const log = (l: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);

function parseOptions() {
  const p = new Command('chaos')
    .description('Intake under faults: no acknowledged event lost, none processed twice')
    .option('--duration <s>', 'seconds of load (faults are spread over it)', '180')
    .option('--short', 'CI version: the whole run, start-up included, within 3 minutes')
    .option('--rate <n>', 'new events per second', '20')
    .option('--senders <n>', 'concurrent senders', '20')
    .option('--faults <list>', `which faults: ${ALL_FAULTS.join(',')}`, ALL_FAULTS.join(','))
    .option('--stall <s>', 'fail when the backlog makes no progress for this long', '60')
    .option('--no-report', 'do not update RELIABILITY.md')
    .parse(process.argv);
  const o = p.opts<Record<string, string | boolean | undefined>>();
  const short = o.short === true;
  const durationS = short && p.getOptionValueSource('duration') !== 'cli' ? 90 : Number(o.duration);
  return {
    short,
    durationS,
    rate: Number(o.rate),
    senders: Number(o.senders),
    faults: String(o.faults)
      .split(',')
      .map((s) => s.trim()) as FaultKind[],
    report: o.report !== false,
    stallS: Number(o.stall),
  };
}

/** When each fault fires, as a fraction of the load duration. */
function schedule(durationS: number, enabled: FaultKind[]): { at: number; kind: FaultKind }[] {
  const plan: { f: number; kind: FaultKind }[] = [
    { f: 0.12, kind: 'worker' },
    { f: 0.3, kind: 'temporal' },
    { f: 0.48, kind: 'worker' },
    { f: 0.64, kind: 'postgres' },
    { f: 0.8, kind: 'worker' },
  ];
  // The full run adds the other faults of the adversarial runs: the API killed, the store frozen (not
  // stopped: connections hang), and Temporal and PostgreSQL down at the same time.
  if (durationS >= 150)
    plan.push(
      { f: 0.22, kind: 'worker' },
      { f: 0.9, kind: 'temporal' },
      { f: 0.38, kind: 'api' },
      { f: 0.56, kind: 'freeze' },
      { f: 0.72, kind: 'both' },
    );
  return plan
    .filter((p) => enabled.includes(p.kind))
    .map((p) => ({ at: p.f * durationS * 1000, kind: p.kind }))
    .sort((a, b) => a.at - b.at);
}

/** What to stop if the run is interrupted or fails half-way (children must not outlive it). */
const cleanups: (() => Promise<void>)[] = [];
async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
}

async function main(): Promise<void> {
  const o = parseOptions();
  const started = Date.now();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-chaos-'));
  const dataDir = path.join(logDir, 'temporal');
  log(`chaos: ${o.durationS} s of load at ${o.rate}/s, faults ${o.faults.join(',')}; logs in ${logDir}`);

  const binary = await temporalCli();
  const address = `127.0.0.1:${await freePort()}`;
  const startTemporal = () => startDevServer({ binary, address, dataDir, headless: true, env: process.env });
  let temporal: DevServer = await startTemporal();
  cleanups.push(() => temporal.stop());
  const cluster = await startPrivateCluster(log);
  cleanups.push(() => cluster.remove());
  const db = { url: cluster.url };
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on('error', () => undefined);
  cleanups.push(() => pool.end());
  const setup: IntakeSetup = {
    temporalAddress: address,
    databaseUrl: db.url,
    taskQueue: taskQueue('chaos'),
    logDir,
    env: {
      INTAKE_FAILPOINTS: 'mailgun.handler=*@10',
      // High enough that nothing parks: every event must end processed.
      INTAKE_RETRY_MAX_ATTEMPTS: '1000',
      INTAKE_RETRY_INITIAL_INTERVAL_MS: '200',
      INTAKE_RETRY_MAX_INTERVAL_MS: '2000',
      // An attempt cut short by kill -9 is retried after this timeout (no heartbeats).
      INTAKE_ACTIVITY_TIMEOUT_MS: '5000',
      INTAKE_START_TIMEOUT_MS: '3000',
      ...(await prebuiltBundleEnv(logDir)),
    },
  };
  let api = await startApiProcess(setup, 'chaos-api');
  cleanups.push(() => api.child.stop());
  let apiN = 0;
  let worker: Child = await startWorkerProcess(setup, 'chaos-worker-0');
  cleanups.push(() => worker.stop());
  let workerN = 0;
  log(`ready after ${((Date.now() - started) / 1000).toFixed(1)} s; load starts`);

  const load = startLoad({
    url: api.url,
    senders: o.senders,
    rate: o.rate,
    messages: 200,
    giveUpAfterStopMs: 20_000,
  });
  const loadStart = Date.now();
  const faults: FaultRecord[] = [];
  for (const f of schedule(o.durationS, o.faults)) {
    const wait = loadStart + f.at - Date.now();
    if (wait > 0) await sleep(wait);
    const at = Date.now();
    const rec: FaultRecord = { kind: f.kind, atS: (at - loadStart) / 1000, downS: 0 };
    if (f.kind === 'worker') {
      await worker.kill9();
      worker = await startWorkerProcess(setup, `chaos-worker-${++workerN}`);
    } else if (f.kind === 'temporal') {
      temporal.kill('SIGKILL');
      await temporal.exited;
      await sleep(2000);
      temporal = await startTemporal();
    } else if (f.kind === 'api') {
      // Same port: the senders keep their URL and retry until it answers again.
      await api.child.kill9();
      api = await startApiProcess(setup, `chaos-api-${++apiN}`, api.port);
    } else if (f.kind === 'freeze') {
      await freezeCluster(cluster, o.short ? 5_000 : 10_000).catch(
        (err: Error) => (rec.skipped = err.message),
      );
    } else if (f.kind === 'both') {
      temporal.kill('SIGKILL');
      await temporal.exited;
      await cluster.restart().catch((err: Error) => (rec.skipped = err.message));
      await sleep(2000);
      temporal = await startTemporal();
    } else {
      await cluster.restart().catch((err: Error) => (rec.skipped = err.message));
    }
    rec.downS = (Date.now() - at) / 1000;
    faults.push(rec);
    log(
      `fault ${f.kind} at ${rec.atS.toFixed(1)} s: ${rec.skipped ? `skipped (${rec.skipped})` : `back after ${rec.downS.toFixed(1)} s`}`,
    );
  }
  const remaining = loadStart + o.durationS * 1000 - Date.now();
  if (remaining > 0) await sleep(remaining);
  log('load stops; waiting for deliveries in flight');
  await load.stop();
  const loadEnd = Date.now();
  const s = load.stats;
  log(`${s.acked.size} acknowledged, ${s.givenUp.size} given up; draining while the backlog shrinks`);

  const drain = await waitForDrain(pool, [...s.acked.keys()], log, o.stallS * 1000);
  log(
    `backlog ${drain.backlogAtStop} at load stop, ${drain.backlogAtEnd} after ${drain.drainS.toFixed(0)} s ` +
      `(${drain.drainPerS.toFixed(1)} events/s)${drain.stalled ? ': STALLED' : ''}`,
  );
  const check = await checkExactlyOnce(pool, s, temporal.address, setup.taskQueue);
  const apiPeak = api.child.peakRss();
  await cleanup();

  const run: ChaosRun = {
    startedAt: new Date(started).toISOString(),
    wallS: (Date.now() - started) / 1000,
    options: {
      durationS: o.durationS,
      rate: o.rate,
      senders: o.senders,
      short: o.short,
      failpoints: 'mailgun.handler=*@10',
    },
    load: {
      sent: s.sent.size,
      acked: s.acked.size,
      duplicates: s.duplicates,
      givenUp: s.givenUp.size,
      answers: s.answers,
      durationS: (loadEnd - loadStart) / 1000,
    },
    faults: faults.map((f) => ({ ...f, ...recovery(f, loadStart, s, drain.processedAt) })),
    drain,
    check,
    peakRssApiBytes: apiPeak,
  };
  const reasons = failureReasons(check, drain, o.stallS);
  const ok = reasons.length === 0;
  run.verdict = ok ? 'pass' : 'fail';
  run.failures = reasons;
  const file = writeResultFile('chaos', run, new Date(run.startedAt));
  if (o.report)
    await updateReliabilityMd(
      path.join(ROOT, 'RELIABILITY.md'),
      renderReliability(run, path.relative(ROOT, path.join(path.dirname(file), 'latest-chaos.json'))),
    );
  log(
    `chaos ${run.verdict}${ok ? '' : ` (${reasons.join('; ')})`}: ${s.acked.size} acked — ` +
      `${check.exactlyOnce} processed exactly once, ${check.pending.length} pending, ` +
      `${check.lost.length} lost, ${check.doubled.length} doubled; counter mismatches ${check.counterMismatches}, ` +
      `drain ${drain.drainPerS.toFixed(1)} events/s, 503s ${s.answers['503'] ?? 0}, wall ${run.wallS.toFixed(0)} s`,
  );
  if (ok) fs.rmSync(logDir, { recursive: true, force: true });
  else log(`logs kept in ${logDir}`);
  process.exit(ok ? 0 : 1);
}

/** Recovery after a fault: until the next 202 of a request sent after it, until processing resumed. */
function recovery(
  f: FaultRecord,
  loadStart: number,
  s: ReturnType<typeof startLoad>['stats'],
  processedAt: number[],
): Pick<FaultRecord, 'ackRecoveryS' | 'processingRecoveryS' | 'failuresDuring'> {
  const at = loadStart + f.atS * 1000;
  const back = at + f.downS * 1000;
  const nextAck = s.acks.filter((a) => a.sentAt >= at).reduce((m, a) => Math.min(m, a.at), Infinity);
  const nextProcessed = processedAt.find((t) => t >= back);
  return {
    ackRecoveryS: Number.isFinite(nextAck) ? (nextAck - at) / 1000 : undefined,
    processingRecoveryS: nextProcessed !== undefined ? (nextProcessed - at) / 1000 : undefined,
    // Faults are at least 14 s apart, so this window never overlaps the next fault's.
    failuresDuring: s.failures.filter((x) => x.at >= at && x.at <= back + 5000).length,
  };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

main().catch(async (err: unknown) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
  await cleanup();
  process.exit(1);
});
