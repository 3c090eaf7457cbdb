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
 * a child process against `address`: `concurrency` starts in flight for `durationMs` after a
 * `warmupMs` warm-up, each with one of `bodies` pre-built inputs.
 */
export async function runRawStarts(o: {
  address: string;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  bodies: number;
  logDir: string;
}): Promise<RawStartResult> {
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
      BENCH_DURATION_MS: String(o.durationMs),
      BENCH_WARMUP_MS: String(o.warmupMs),
      BENCH_BODIES: String(o.bodies),
      BENCH_RESULT_FILE: resultFile,
    },
    logDir: o.logDir,
  });
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`raw-start exited ${code}; see ${child.logFile}`);
  return JSON.parse(fs.readFileSync(resultFile, 'utf8')) as RawStartResult;
}
