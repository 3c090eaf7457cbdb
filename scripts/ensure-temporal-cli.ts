/**
 * Prints the path of the `temporal` binary, acquiring it if needed (see src/dev/cli-binary.ts
 * for the order). Progress goes to stderr, so `TEMPORAL_CLI_PATH=$(npx tsx scripts/ensure-temporal-cli.ts)`.
 */
import { loadConfig } from '../src/config';
import { findTemporalCli } from '../src/dev/cli-binary';

async function main(): Promise<void> {
  const config = loadConfig();
  const binary = await findTemporalCli({
    explicitPath: config.temporal.cliPath,
    env: config.childEnv,
    progress: (line) => process.stderr.write(line + '\n'),
  });
  process.stdout.write(binary + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
