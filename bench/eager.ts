/**
 * `npm run bench:eager`: does eager workflow start help `intake dev` (API and worker in one
 * process)? A/B pairs of end-to-end runs at fixed arrival rates, INTAKE_EAGER_START=false then
 * true, alternating so both see the same machine: received→processed p50/p99, ack p50/p99 and
 * backlog slope. Each run is a fresh `intake dev` (its own dev server) on a fresh database.
 * Writes bench/results/eager-<timestamp>.json (and latest-eager.json) and prints a markdown table for BENCHMARKS.md.
 *
 *   npm run bench:eager -- --rates 30,60 --duration 20 --pairs 2
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { runEndToEnd, type E2eResult } from './lib/e2e';
import { writeResultFile } from './lib/results';

const log = (l: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);

interface Row {
  eager: boolean;
  pair: number;
  result: E2eResult;
}

async function main(): Promise<void> {
  const o = new Command('bench:eager')
    .option('--rates <list>', 'fixed arrival rates, events/s', '30,60')
    .option('--duration <s>', 'seconds of load per run', '20')
    .option('--pairs <n>', 'A/B pairs per rate', '2')
    .option('--label <text>', 'what this run measures (e.g. the commit)', '')
    .parse(process.argv)
    .opts<{ rates: string; duration: string; pairs: string; label: string }>();
  const rates = o.rates.split(',').filter(Boolean).map(Number);
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-eager-'));
  log(`eager bench: logs in ${logDir}`);
  const rows: Row[] = [];
  for (const rate of rates) {
    for (let pair = 1; pair <= Number(o.pairs); pair++) {
      for (const eager of [false, true]) {
        const result = await runEndToEnd({
          temporalAddress: '',
          logDir,
          connections: Math.max(8, Math.ceil(rate / 5)),
          durationS: Number(o.duration),
          warmupS: 3,
          drainTimeoutS: 90,
          env: { INTAKE_EAGER_START: String(eager) },
          rate,
          dev: true,
          log,
        });
        rows.push({ eager, pair, result });
        log(
          `  ${rate}/s eager=${eager} pair ${pair}: received→processed p50 ${result.receivedToProcessed.p50.toFixed(0)} ms ` +
            `p99 ${result.receivedToProcessed.p99.toFixed(0)} ms; ack p50 ${result.ack.p50.toFixed(0)} ms; ` +
            `slope ${result.backlogSlopePerS.toFixed(2)}/s; unprocessed ${result.unprocessed}`,
        );
      }
    }
  }
  const out = writeResultFile('eager', {
    label: o.label,
    options: o,
    rows: rows.map((r) => ({ ...r, result: { ...r.result, samples: undefined } })),
  });
  const md = [
    '| rate | pair | eager start | acked/s | received→processed p50 / p99 ms | ack p50 / p99 ms | backlog slope /s | unprocessed |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      ({ eager, pair, result: r }) =>
        `| ${r.rate} | ${pair} | ${eager ? 'on' : 'off'} | ${r.ingestRps.toFixed(1)} | ` +
        `${r.receivedToProcessed.p50.toFixed(0)} / ${r.receivedToProcessed.p99.toFixed(0)} | ` +
        `${r.ack.p50.toFixed(0)} / ${r.ack.p99.toFixed(0)} | ${r.backlogSlopePerS.toFixed(2)} | ${r.unprocessed} |`,
    ),
  ];
  process.stdout.write(`\n${md.join('\n')}\n\nresults: ${out}\n`);
  fs.rmSync(logDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:eager: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
