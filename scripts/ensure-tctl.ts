/**
 * Prints the path of `tctl`, building the pinned release if needed (see src/dev/tctl-binary.ts
 * for the order). Progress goes to stderr, so `TCTL_PATH=$(npx tsx scripts/ensure-tctl.ts)`.
 */
import { loadConfig } from '../src/config';
import { findTctl } from '../src/dev/tctl-binary';

async function main(): Promise<void> {
  const config = loadConfig();
  const binary = await findTctl({ explicitPath: config.temporal.tctlPath, env: config.childEnv });
  process.stdout.write(binary + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
