import { Command } from 'commander';
import { loadConfig, type Config } from '../config';
import { ConfigError } from '../errors';
import { runDev } from './dev';
import { envCommand } from './env';
import { eventsCommand } from './events';
import { runApi, runServer, runWorker } from './processes';
import { sendCommand } from './send';
import { migrateCommand, searchAttributesCommand } from './setup';
import { sourcesCommand } from './sources';
import { tctlCommand, temporalCommand } from './tools';

let cached: Config | undefined;
const config = () => (cached ??= loadConfig());

async function main(): Promise<void> {
  const program = new Command('intake')
    .description('Durable webhook ingestion on Temporal')
    .showHelpAfterError()
    // `intake temporal …` and `intake tctl …` hand every option after them to the tool.
    .enablePositionalOptions();
  program
    .command('dev')
    .description('everything on one machine: Temporal dev server, store, API, worker')
    .action(() => runDev(config()));
  program
    .command('server')
    .description('the Temporal dev server alone (data under INTAKE_DATA_DIR)')
    .action(() => runServer(config()));
  program
    .command('api')
    .description('the HTTP API (stateless; run any number)')
    .action(() => runApi(config()));
  program
    .command('worker')
    .description('a worker (stateless; run any number)')
    .action(() => runWorker(config()));
  program.addCommand(eventsCommand(config));
  program.addCommand(sendCommand(config));
  program.addCommand(migrateCommand(config));
  program.addCommand(searchAttributesCommand(config));
  program.addCommand(envCommand(config));
  program.addCommand(sourcesCommand(config));
  program.addCommand(temporalCommand(config));
  program.addCommand(tctlCommand(config));
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  // A DevServerError's message names the port or the log to read: shown as it is, like others.
  const message = err instanceof ConfigError ? `configuration error: ${err.message}` : (err as Error).message;
  process.stderr.write(`intake: ${message}\n`);
  process.exit(1);
});
