import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './children';
import type { E2eResult } from './e2e';
import type { RunResult } from './load';
import type { TemporalBackend } from './temporal';

/** The scenarios, in report order. */
export const SCENARIOS = ['hello', 'raw', 'naive', 'intake', 'rabbit'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Row labels for the report and the chart. */
export const SCENARIO_LABELS: Record<Scenario, string> = {
  hello: '(a) HTTP ceiling: express hello-world, 202',
  raw: '(b) raw Temporal starts, TS client, no HTTP',
  naive: '(c) naive endpoint: express.json + workflow.start',
  intake: '(d) Intake ingest: signed Mailgun, full checks',
  rabbit: '(e) classic: express → RabbitMQ, durable + confirms',
};

/** One scenario at one concurrency against one backend. */
export interface Measurement extends RunResult {
  scenario: Scenario;
  concurrency: number;
}

/** Everything measured against one Temporal server. */
export interface BackendResult {
  kind: TemporalBackend['kind'];
  label: string;
  measurements: Measurement[];
  e2e?: E2eResult;
  /** Peak RSS (VmHWM) of the `intake api` process that served scenario (d), bytes. */
  peakRssIngestApiBytes?: number;
}

/** One `npm run bench`, as written to bench/results/<timestamp>.json. */
export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  wallS: number;
  machine: { nproc: number; cpu: string; memory: string; node: string; os: string };
  options: {
    durationS: number;
    warmupS: number;
    levels: number[];
    e2eDurationS: number;
    e2eConnections: number;
    env: Record<string, string>;
    /** intake api processes sharing the port. */
    apiProcesses?: number;
  };
  backends: BackendResult[];
  /** Backends that could not run, with the exact reason. */
  skipped: { kind: string; reason: string }[];
  notes: string[];
}

/**
 * Writes one bench's results as bench/results/<kind>-<timestamp>.json (ignored by git: a run's
 * record on this machine) and as bench/results/latest-<kind>.json (committed: the figures
 * BENCHMARKS.md quotes); returns the timestamped file. `startedAt` names the file when given.
 */
export function writeResultFile(kind: string, data: unknown, startedAt = new Date()): string {
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(data, null, 2) + '\n';
  const file = path.join(dir, `${kind}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, text);
  fs.writeFileSync(path.join(dir, `latest-${kind}.json`), text);
  return file;
}
