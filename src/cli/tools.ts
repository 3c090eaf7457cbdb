import { spawn } from 'node:child_process';
import { Command } from 'commander';
import type { Config } from '../config';
import { findTemporalCli } from '../dev/cli-binary';
import { findTctl } from '../dev/tctl-binary';

/** Runs `binary args…` with the terminal attached; resolves with its exit code. */
function passThrough(binary: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: 'inherit', env });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

function toolCommand(name: string, description: string, find: (config: Config) => Promise<string>) {
  return (getConfig: () => Config) =>
    new Command(name)
      .description(description)
      .argument('[args...]', `${name}'s own arguments`)
      .option('--path', `print where ${name} is and exit`)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .passThroughOptions()
      .action(async (args: string[], o: { path?: boolean }) => {
        const config = getConfig();
        const binary = await find(config);
        if (o.path) {
          process.stdout.write(binary + '\n');
          return;
        }
        // The tools read the same Temporal settings as Intake (tctl under its own variable names).
        const env = {
          ...config.childEnv,
          TEMPORAL_ADDRESS: config.temporal.address,
          TEMPORAL_NAMESPACE: config.temporal.namespace,
          TEMPORAL_CLI_ADDRESS: config.childEnv.TEMPORAL_CLI_ADDRESS ?? config.temporal.address,
          TEMPORAL_CLI_NAMESPACE: config.childEnv.TEMPORAL_CLI_NAMESPACE ?? config.temporal.namespace,
        };
        process.exitCode = await passThrough(binary, args, env);
      });
}

/**
 * `intake temporal …`: the project's `temporal` CLI (found or fetched as for `intake dev`), so the
 * runbook's `temporal …` lines work without it on PATH. `intake temporal --path` prints where it is.
 */
export const temporalCommand = toolCommand(
  'temporal',
  'run the Temporal CLI Intake uses (--path: print where it is)',
  (config) => findTemporalCli({ explicitPath: config.temporal.cliPath, env: config.childEnv }),
);

/** `intake tctl …`: the pinned tctl (TCTL_PATH, PATH, cache, or built once). */
export const tctlCommand = toolCommand('tctl', 'run tctl v1.18.0 (--path: print where it is)', (config) =>
  findTctl({ explicitPath: config.temporal.tctlPath, env: config.childEnv }),
);
