/**
 * `intake api` on several processes sharing one port (node:cluster), to measure "the API on both
 * cores" (npm run bench -- --api-processes 2). Each process is a full `intake api` with its own
 * Temporal connection and store pool. Env as for `intake api`, plus BENCH_API_PROCESSES.
 */
import cluster from 'node:cluster';
import { runApi } from '../../src/cli/processes';
import { loadConfig } from '../../src/config';

async function main(): Promise<void> {
  if (cluster.isPrimary) {
    const n = Number(process.env.BENCH_API_PROCESSES ?? 2);
    let stopping = false;
    for (let i = 0; i < n; i++) cluster.fork();
    cluster.on('exit', () => {
      if (!stopping) process.exit(1);
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
    process.on('SIGTERM', () => {
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    });
    return;
  }
  await runApi(loadConfig());
}

main().catch((err: unknown) => {
  process.stderr.write(`api-cluster: ${(err as Error).message}\n`);
  process.exit(1);
});
