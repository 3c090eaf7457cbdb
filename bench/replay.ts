/**
 * `npm run bench:replay`: how fast a replay (issue 20) runs events again, against how fast the same
 * worker drains fresh events, in one run on one dev server (so the ratio holds on a busy machine).
 * Each round:
 *  1. fresh: N signed Mailgun events acknowledged by `intake api` with no worker, then one
 *     `intake worker` drains them: processed/s from the first processed event to the last;
 *  2. replay: `POST /admin/replay` of those N events (by id) with that worker running (the
 *     replayEvents workflow reads the archive, starts each run as `<id>:r2`, the worker processes
 *     it): replayed/s from the first event at ledger revision 2 to the last, measured like the fresh
 *     drain, and apart from it the time from the request to the first replayed event and the rate
 *     from the request to the last.
 * Target (BENCHMARKS.md): replay ≥ 0.8 × the fresh drain rate (first to last, both).
 * Writes bench/results/replay-<timestamp>.json and latest-replay.json, prints a markdown table.
 *
 *   npm run bench:replay -- --events 500 --rounds 2
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import pg from 'pg';
import { sleep } from './lib/children';
import { cpuMeter } from './lib/cpu';
import {
  BENCH_ADMIN_TOKEN,
  prebuiltBundleEnv,
  startApiProcess,
  startWorkerProcess,
  taskQueue,
} from './lib/intake-procs';
import { signedBodies } from './lib/mailgun-bodies';
import { createDatabase } from './lib/postgres';
import { writeResultFile } from './lib/results';
import { startDevBackend } from './lib/temporal';

const log = (l: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);
const f1 = (x: number) => x.toFixed(1);

interface Round {
  events: number;
  freshPerS: number;
  /** Replayed/s from the first event at revision 2 to the last (as the fresh drain is timed). */
  replayPerS: number;
  ratio: number;
  /** Seconds from the replay request to the first event at revision 2. */
  firstReplayedS: number;
  /** Replayed/s from the request to the last, and its ratio to the fresh drain. */
  fromRequestPerS: number;
  fromRequestRatio: number;
  /** Worker CPU ms per event, fresh and replayed. */
  workerCpuMs: { fresh: number; replay: number };
  /** Temporal server CPU ms per event, fresh (its starts came before, with the acks) and replayed. */
  serverCpuMs: { fresh: number; replay: number };
  loadAverage1m: number;
}

async function main(): Promise<void> {
  const o = new Command('bench:replay')
    .option('--events <n>', 'events per round', '500')
    .option('--rounds <n>', 'rounds (fresh drain, then replay)', '2')
    .option('--connections <n>', 'concurrency of the acknowledging burst', '32')
    .parse()
    .opts<{ events: string; rounds: string; connections: string }>();
  const events = Number(o.events);
  const rounds = Number(o.rounds);
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-replay-bench-'));
  const loadAtStart = os.loadavg();
  log(`replay bench: logs in ${logDir}; load average ${loadAtStart.map(f1).join(' ')}`);
  const backend = await startDevBackend(path.join(logDir, 'temporal'));
  const db = await createDatabase('intake_bench_replay');
  const setup = {
    temporalAddress: backend.address,
    databaseUrl: db.url,
    taskQueue: taskQueue('bench-replay'),
    logDir,
    env: { ...(await prebuiltBundleEnv(logDir)), INTAKE_WORKER_METRICS_PORT: '0' },
  };
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const api = await startApiProcess(setup, 'replay-api');
  const results: Round[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      const bodies = signedBodies(events);
      const ids = bodies.map((b) => b.id);
      const atRevision = async (rev: number) =>
        Number(
          (
            await pool.query<{ n: string }>(
              'SELECT count(*) AS n FROM processed_events WHERE id = ANY($1) AND revision = $2',
              [ids, rev],
            )
          ).rows[0]?.n ?? 0,
        );
      let next = 0;
      const lane = async () => {
        for (let b = bodies[next++]; b; b = bodies[next++]) {
          const res = await fetch(`${api.url}/webhooks/mailgun`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: b.body,
          });
          if (!res.ok) throw new Error(`webhook answered ${res.status}`);
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: Number(o.connections) }, lane));
      const worker = await startWorkerProcess(setup, `replay-worker-${r}`);
      try {
        let n0 = 0;
        while ((n0 = await atRevision(1)) === 0) await sleep(50);
        const first = Date.now();
        const cpu = cpuMeter([worker.pid]);
        const server0 = await backend.cpuSeconds();
        while ((await atRevision(1)) < events) await sleep(100);
        const freshS = (Date.now() - first) / 1000;
        const freshCpu = cpu.read();
        const server1 = await backend.cpuSeconds();
        const freshPerS = (events - n0) / Math.max(0.001, freshS);

        const cpu2 = cpuMeter([worker.pid]);
        const t0 = Date.now();
        const res = await fetch(`${api.url}/admin/replay`, {
          method: 'POST',
          headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ source: 'mailgun', ids, reason: 'bench' }),
        });
        if (res.status !== 202) throw new Error(`replay answered ${res.status}: ${await res.text()}`);
        let r0 = 0;
        while ((r0 = await atRevision(2)) === 0) await sleep(50);
        const firstReplayed = Date.now();
        while ((await atRevision(2)) < events) await sleep(100);
        const end = Date.now();
        const replayPerS = (events - r0) / Math.max(0.001, (end - firstReplayed) / 1000);
        const fromRequestPerS = events / ((end - t0) / 1000);
        const server2 = await backend.cpuSeconds();
        const round: Round = {
          events,
          freshPerS,
          replayPerS,
          ratio: replayPerS / freshPerS,
          firstReplayedS: (firstReplayed - t0) / 1000,
          fromRequestPerS,
          fromRequestRatio: fromRequestPerS / freshPerS,
          workerCpuMs: {
            fresh: (freshCpu * 1000) / Math.max(1, events - n0),
            replay: (cpu2.read() * 1000) / events,
          },
          serverCpuMs: {
            fresh: ((server1 - server0) * 1000) / Math.max(1, events - n0),
            replay: ((server2 - server1) * 1000) / events,
          },
          loadAverage1m: os.loadavg()[0] ?? 0,
        };
        results.push(round);
        log(
          `  round ${r}: fresh ${f1(freshPerS)}/s, replay ${f1(replayPerS)}/s = ${round.ratio.toFixed(2)} ×; ` +
            `first replayed after ${f1(round.firstReplayedS)} s, from the request ${f1(fromRequestPerS)}/s = ` +
            `${round.fromRequestRatio.toFixed(2)} ×; ` +
            `worker CPU ms/event ${f1(round.workerCpuMs.fresh)} / ${f1(round.workerCpuMs.replay)}; ` +
            `server ${f1(round.serverCpuMs.fresh)} / ${f1(round.serverCpuMs.replay)}; load ${f1(round.loadAverage1m)}`,
        );
      } finally {
        await worker.stop();
      }
    }
    const out = writeResultFile('replay', {
      server: backend.label,
      loadAverage: { start: loadAtStart, end: os.loadavg() },
      options: { events, rounds },
      rounds: results,
    });
    const row = (c: string[]) => `| ${c.join(' | ')} |`;
    process.stdout.write(
      [
        '',
        row([
          'round',
          'events',
          'fresh drain/s',
          'replay/s',
          'replay ÷ fresh',
          'first replayed after (s)',
          'from request/s (÷ fresh)',
          'worker CPU ms/event fresh / replay',
          'server CPU ms/event fresh / replay',
          'load avg',
        ]),
        row(Array.from({ length: 10 }, () => '---')),
        ...results.map((x, i) =>
          row([
            String(i + 1),
            String(x.events),
            f1(x.freshPerS),
            f1(x.replayPerS),
            x.ratio.toFixed(2),
            f1(x.firstReplayedS),
            `${f1(x.fromRequestPerS)} (${x.fromRequestRatio.toFixed(2)})`,
            `${f1(x.workerCpuMs.fresh)} / ${f1(x.workerCpuMs.replay)}`,
            `${f1(x.serverCpuMs.fresh)} / ${f1(x.serverCpuMs.replay)}`,
            f1(x.loadAverage1m),
          ]),
        ),
        '',
        `${backend.label}; load average ${loadAtStart.map(f1).join(' ')} at the start, ${os.loadavg().map(f1).join(' ')} at the end`,
        `results: ${out}`,
        '',
      ].join('\n'),
    );
    fs.rmSync(logDir, { recursive: true, force: true });
  } finally {
    await api.child.stop();
    await pool.end();
    await db.drop();
    await backend.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:replay: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
