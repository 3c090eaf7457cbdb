import { Command } from 'commander';
import type { Config } from '../config';
import { devEnvironment, shellExports } from '../dev/dev-env';

/**
 * `intake env`: the development environment of INTAKE_DATA_DIR (default ./data) as one `export`
 * line, so a second terminal gets the API URL, the Temporal address and the generated tokens with
 * `eval "$(npx intake env)"`.
 */
export function envCommand(getConfig: () => Config): Command {
  return new Command('env')
    .description(
      'print `export INTAKE_API_URL=… INTAKE_ADMIN_TOKEN=… …` of `npm start`, for eval "$(npx intake env)"',
    )
    .action(() => {
      const { dataDir } = getConfig();
      const vars = devEnvironment(dataDir);
      if (!vars)
        throw new Error(
          `no development environment in ${dataDir} (dev-secrets.json): run \`npm start\` there first, or set INTAKE_DATA_DIR`,
        );
      process.stdout.write(shellExports(vars) + '\n');
    });
}
