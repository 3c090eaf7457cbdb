/**
 * Prints the path of helm v3.22 (HELM_PATH, else ~/.cache/intake/helm/<version>/helm, built from
 * the Go module proxy once, under a lock). Progress goes to stderr, so
 * `HELM_PATH="$(npx tsx scripts/ensure-helm.ts)"`.
 */
import { loadConfig } from '../src/config';
import { ensureHelm } from './helm-binary';

async function main(): Promise<void> {
  process.stdout.write((await ensureHelm({ env: loadConfig().childEnv })) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
