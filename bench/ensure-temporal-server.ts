/**
 * Builds the Temporal server and temporal-sql-tool (go.temporal.io/server, the release the pinned
 * temporal CLI embeds) for the PostgreSQL-backed benches, with `nice -n 10 go install` from the Go
 * module proxy, into ~/.cache/intake/temporal-server/<version>/; prints that folder. Bench-only:
 * `npm test` and CI never need it. Progress goes to stderr.
 *
 *   npx tsx bench/ensure-temporal-server.ts && npm run bench:drain -- --server postgres
 */
import { ensureServerBinaries, serverBinDir } from './lib/temporal';

async function main(): Promise<void> {
  const timeoutMs = 60 * 60_000;
  await ensureServerBinaries((line) => process.stderr.write(line + '\n'), timeoutMs);
  process.stdout.write(serverBinDir() + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
