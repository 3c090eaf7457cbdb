import fs from 'node:fs';
import path from 'node:path';
import { spawnTs } from './children';
import { taskQueue } from './intake-procs';

/** What bench/scenarios/raw-start.ts measured (its result file). */
export interface RawStartResult {
  total: number;
  errors: number;
  durationS: number;
  rps: number;
  latency: { p50: number; p99: number };
}

/**
 * Runs the raw-start scenario (workflow starts straight from the TS client, no HTTP, no worker) as
 * a child process against `address`: `concurrency` starts in flight for `durationS` after a
 * `warmupS` warm-up (default 1), each with one of at least 5,000 pre-built inputs (`bodiesPerS` per
 * second of the run, default 2,500, so no id repeats at the rates this machine reaches).
 */
export async function runRawStarts(o: {
  address: string;
  concurrency: number;
  durationS: number;
  warmupS?: number;
  bodiesPerS?: number;
  logDir: string;
}): Promise<RawStartResult> {
  const warmupS = o.warmupS ?? 1;
  const bodies = Math.max(5000, Math.ceil((o.durationS + warmupS) * (o.bodiesPerS ?? 2500)));
  const resultFile = path.join(o.logDir, `raw-${o.concurrency}-${Date.now()}.json`);
  const child = spawnTs({
    name: 'raw-start',
    script: 'bench/scenarios/raw-start.ts',
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: o.address,
      BENCH_TASK_QUEUE: taskQueue('bench-raw'),
      BENCH_CONCURRENCY: String(o.concurrency),
      BENCH_DURATION_MS: String(o.durationS * 1000),
      BENCH_WARMUP_MS: String(warmupS * 1000),
      BENCH_BODIES: String(bodies),
      BENCH_RESULT_FILE: resultFile,
    },
    logDir: o.logDir,
  });
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`raw-start exited ${code}; see ${child.logFile}`);
  return JSON.parse(fs.readFileSync(resultFile, 'utf8')) as RawStartResult;
}
