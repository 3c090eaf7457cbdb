/**
 * Issue 10, item 3 (the 60 s stall): a burst of signed Mailgun webhooks through `intake api` +
 * `intake worker` (`--store pg`) or API, worker and embedded PGlite in one process (`--store
 * embedded`, as `intake dev` runs them), then every handler attempt that did not succeed at once is
 * examined: a retried attempt leaves no ActivityTaskTimedOut event (the server retries it itself),
 * only the last attempt's ActivityTaskStarted with `attempt` > 1 and `lastFailure`. For each, the
 * worker's debug log tells whether it ever received attempt 1 (the SDK's "Activity started") and
 * whether the activity had been offered for eager dispatch. `--cut-every S` resets the worker's
 * connections to Temporal every S seconds during the load (a network blip: poll responses in flight
 * are lost). Writes `<out>/summary.json`; prints the summary.
 *
 *   npx tsx bench/stall-burst.ts --store pg|embedded [--connections 1000] [--duration 10]
 *       [--cut-every 0] [--env K=V,K=V] [--port 7810] [--out DIR]
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import pg from 'pg';
import { findTemporalCli } from '../src/dev/cli-binary';
import { startDevServer } from '../src/dev/dev-server';
import { spawnTs, waitForHttp, sleep, type Child } from './lib/children';
import {
  intakeEnv,
  startApiProcess,
  startWorkerProcess,
  taskQueue,
  type IntakeSetup,
} from './lib/intake-procs';
import { httpLoad } from './lib/load';
import { signedBodies } from './lib/mailgun-bodies';
import { createDatabase } from './lib/postgres';

const arg = (n: string, d: string) => {
  const i = process.argv.indexOf(`--${n}`);
  return i > 0 ? process.argv[i + 1]! : d;
};
const store = arg('store', 'pg');
const basePort = Number(arg('port', '7810'));
const connections = Number(arg('connections', '1000'));
const durationS = Number(arg('duration', '10'));
const rounds = Number(arg('rounds', '1'));
/** Every `cutEvery` s during the load, the worker's connections to Temporal are reset (0 = never). */
const cutEvery = Number(arg('cut-every', '0'));
/** Extra env for the Intake processes, `K=V,K=V`. */
const extraEnv = Object.fromEntries(
  arg('env', '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const out = arg('out', `/tmp/stall-burst-${store}-${Date.now()}`);

/** A TCP relay whose relayed connections can all be reset at once (a network blip). */
async function relay(target: number, port: number) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const u = net.connect(target, '127.0.0.1');
    for (const s of [c, u]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    c.pipe(u).pipe(c);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    cutAll(): number {
      const n = sockets.size;
      for (const s of sockets) s.resetAndDestroy();
      return n;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** One retried handler attempt and what the worker's log says about the attempt before it. */
interface Finding {
  id: string;
  /** The attempt that ran (> 1) and when, and how long after the activity was scheduled. */
  attempt: number;
  startedAt: string;
  waitedMs: number;
  /** How the attempt before it ended (`timeout START_TO_CLOSE`, `timeout HEARTBEAT`, an error type). */
  previousFailure: string;
  /** Whether the worker's SDK ever logged "Activity started" for attempt 1. */
  attempt1ReceivedByWorker: boolean;
  /** Whether the workflow task that scheduled it asked for eager dispatch and was refused. */
  eagerDeclined: boolean;
  handlerAttempts: string[];
  ledgerRows: number;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];
type LogLine = Record<string, unknown>;

const iso = (ms: number) => new Date(ms).toISOString();
const countBy = (xs: string[]) =>
  xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});
const ts = (e: HistoryEvent) =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);

/** The retried attempts in one history (the server writes only the last attempt's started event). */
function retried(
  id: string,
  events: HistoryEvent[],
): { started: number; workflowTaskTimeouts: number; findings: Finding[] } {
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const findings: Finding[] = [];
  let started = 0;
  for (const e of events) {
    const st = e.activityTaskStartedEventAttributes;
    if (!st) continue;
    started++;
    if ((st.attempt ?? 1) <= 1) continue;
    const sch = byId.get(Number(st.scheduledEventId));
    const lf = st.lastFailure;
    findings.push({
      id,
      attempt: st.attempt ?? 0,
      startedAt: iso(ts(e)),
      waitedMs: sch ? ts(e) - ts(sch) : -1,
      previousFailure: lf?.timeoutFailureInfo
        ? `timeout ${temporal.api.enums.v1.TimeoutType[lf.timeoutFailureInfo.timeoutType ?? 0]}`
        : `${lf?.applicationFailureInfo?.type ?? ''} ${lf?.message ?? ''}`.trim(),
      attempt1ReceivedByWorker: false,
      eagerDeclined: false,
      handlerAttempts: [],
      ledgerRows: -1,
    });
  }
  // A lost workflow task ends by the workflow task timeout (10 s by default) and is dispatched again.
  const workflowTaskTimeouts = events.filter((e) => e.workflowTaskTimedOutEventAttributes).length;
  return { started, workflowTaskTimeouts, findings };
}

/** Every JSON log line the Intake processes wrote into `dir`. */
function readLogs(dir: string): LogLine[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });
}

/** Starts Intake (two processes, or one with PGlite) on `setup`; resolves with the API's URL. */
async function startIntakeProcesses(
  setup: IntakeSetup,
  workerAddress: string,
  children: Child[],
): Promise<string> {
  if (store === 'pg') {
    const api = await startApiProcess(setup, 'intake-api', basePort + 1);
    children.push(api.child);
    children.push(await startWorkerProcess({ ...setup, temporalAddress: workerAddress }));
    return api.url;
  }
  const env = { ...intakeEnv(setup, basePort + 1), DATABASE_URL: '' };
  const child = spawnTs({ name: 'intake-one', script: 'bench/stall-one.ts', env, logDir: setup.logDir });
  children.push(child);
  const url = `http://127.0.0.1:${basePort + 1}`;
  await waitForHttp(`${url}/healthz`, 180_000, child);
  return url;
}

async function main() {
  fs.mkdirSync(out, { recursive: true });
  const binary = await findTemporalCli({ explicitPath: process.env.TEMPORAL_CLI_PATH, env: process.env });
  const tdir = fs.mkdtempSync(path.join(os.tmpdir(), 'stall-temporal-'));
  const address = `127.0.0.1:${basePort}`;
  const server = await startDevServer({ binary, address, dataDir: tdir, headless: true, env: process.env });
  const children: Child[] = [];
  const db = await createDatabase('stall_burst');
  const setup: IntakeSetup = {
    temporalAddress: address,
    databaseUrl: store === 'pg' ? db.url : '',
    taskQueue: taskQueue('stall'),
    logDir: out,
    env: { LOG_LEVEL: 'debug', ...extraEnv },
  };
  // With --cut-every, the worker (pg) reaches Temporal through a relay that the load resets.
  const link = cutEvery > 0 ? await relay(basePort, basePort + 2) : undefined;
  let cuts = 0;
  let cutSockets = 0;
  try {
    const url = await startIntakeProcesses(setup, link ? `127.0.0.1:${basePort + 2}` : address, children);
    const connection = await Connection.connect({ address });
    const client = new Client({ connection });
    let acked = 0;
    for (let r = 0; r < rounds; r++) {
      const cutter = link
        ? setInterval(() => {
            cuts++;
            cutSockets += link.cutAll();
          }, cutEvery * 1000)
        : undefined;
      const res = await httpLoad({
        url,
        connections,
        durationS,
        bodies: signedBodies(connections * 3 + durationS * 300),
      });
      if (cutter) clearInterval(cutter);
      acked += res.total;
      console.log(
        `round ${r}: ${res.total} 2xx, ${res.non2xx} non-2xx, ${res.errors} errors, ${res.rps.toFixed(1)}/s, p99 ${res.p99} ms`,
      );
    }
    // Until every event has closed (a lost attempt takes the activity timeout + the retry interval).
    const queues = `(TaskQueue="${setup.taskQueue}")`;
    const deadline = Date.now() + 600_000;
    for (;;) {
      const { count } = await client.workflow.count(`${queues} AND ExecutionStatus="Running"`);
      if (count === 0 || Date.now() > deadline) break;
      await sleep(5000);
    }
    const ids: string[] = [];
    for await (const w of client.workflow.list({ query: queues })) ids.push(w.workflowId);
    let activityTaskStarted = 0;
    let workflowTaskTimeouts = 0;
    const findings: Finding[] = [];
    for (const id of ids) {
      const r = retried(id, (await client.workflow.getHandle(id).fetchHistory()).events ?? []);
      activityTaskStarted += r.started;
      workflowTaskTimeouts += r.workflowTaskTimeouts;
      findings.push(...r.findings);
    }
    // The worker's debug log: did it ever receive attempt 1; was the activity offered for eager dispatch?
    const lines = readLogs(out);
    const pool = store === 'pg' ? new pg.Pool({ connectionString: db.url }) : undefined;
    for (const f of findings) {
      const mine = lines.filter((l) => l.workflowId === f.id || l.id === f.id);
      f.attempt1ReceivedByWorker = mine.some(
        (l) => l.msg === 'Activity started' && l.isLocal === false && l.attempt === 1,
      );
      f.eagerDeclined = mine.some((l) => String(l.msg).includes('fewer activities for eager'));
      f.handlerAttempts = mine
        .filter((l) => l.msg === 'handler attempt')
        .map((l) => `${String(l.attempt)} ${String(l.outcome)} ${iso(Number(l.time))}`);
      if (pool)
        f.ledgerRows = Number(
          (await pool.query('SELECT count(*)::int AS n FROM processed_events WHERE id = $1', [f.id])).rows[0]
            ?.n,
        );
    }
    await pool?.end();
    const waits = findings.map((f) => f.waitedMs).sort((x, y) => x - y);
    const summary = {
      store,
      connections,
      durationS,
      rounds,
      cutEvery,
      cuts,
      cutSockets,
      extraEnv,
      acknowledged: acked,
      workflows: ids.length,
      activityTaskStarted,
      workflowTaskTimeouts,
      sdkRegularActivityStartedLogLines: lines.filter(
        (l) => l.msg === 'Activity started' && l.isLocal === false,
      ).length,
      eagerDeclinedLogLines: lines.filter((l) => String(l.msg).includes('fewer activities for eager')).length,
      retriedAttempts: findings.length,
      retriedAttemptsWhoseAttempt1NeverReachedTheWorker: findings.filter((f) => !f.attempt1ReceivedByWorker)
        .length,
      retriedWaitMs: waits.length ? { min: waits[0], max: waits[waits.length - 1] } : null,
      previousFailures: countBy(findings.map((f) => f.previousFailure)),
      warnings: countBy(lines.filter((l) => Number(l.level) >= 40).map((l) => String(l.msg).slice(0, 80))),
      findings,
    };
    fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2));
    console.log(JSON.stringify({ ...summary, findings: findings.slice(0, 5) }, null, 2));
    await connection.close();
  } finally {
    for (const c of children.reverse()) await c.stop(5000).catch(() => undefined);
    link?.cutAll();
    await link?.close();
    await server.stop();
    await db.drop();
    fs.rmSync(tdir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
