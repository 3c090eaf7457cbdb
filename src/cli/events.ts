import { Command } from 'commander';
import type { Config } from '../config';
import { OperatorClient } from './operator-client';
import { issuesCommand, redrivesCommand, retryParked } from './redrive';
import { replayCommand, replaysCommand } from './replay';

const print = (v: unknown): void => {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
};

interface RetryOptions {
  parked?: boolean;
  source?: string;
  issue?: string;
  dryRun?: boolean;
  canary?: string;
  rate?: string;
}

/** `intake events list`: `GET /admin/events` (Temporal's visibility, the quarantine, the spool's dead letters). */
function listEvents(getConfig: () => Config) {
  return async (o: { status?: string; source?: string; limit: string; json?: boolean }): Promise<void> => {
    const rows = await new OperatorClient(getConfig()).listEvents(o);
    if (o.json) return print(rows);
    if (rows.length === 0) {
      process.stdout.write('no events\n');
      return;
    }
    for (const r of rows) {
      process.stdout.write(
        `${r.status?.padEnd(10) ?? '?'.padEnd(10)} ${r.startedAt}  ${r.id}  ${r.eventType ?? ''}\n`,
      );
    }
  };
}

/** `intake events reingest|drop ID`: a quarantined event, through the admin API (its store holds them). */
function quarantineCommands(events: Command, getConfig: () => Config): void {
  events
    .command('reingest')
    .argument('<id>', 'id of a rejected (quarantined) event, rejected:<uuid>')
    .description('ingest a quarantined event again, once the schema accepts it')
    .action(async (id: string) => print(await new OperatorClient(getConfig()).rejected(id, 'reingest')));

  events
    .command('drop')
    .argument('<id>', 'id of a rejected (quarantined) event, rejected:<uuid>')
    .description('delete a quarantined event for good')
    .action(async (id: string) => print(await new OperatorClient(getConfig()).rejected(id, 'drop')));
}

/** `intake events …`: operations on events, through the admin API (INTAKE_API_URL, INTAKE_ADMIN_TOKEN). */
export function eventsCommand(getConfig: () => Config): Command {
  const events = new Command('events').description(
    'inspect and operate on events (through the admin API: INTAKE_API_URL, INTAKE_ADMIN_TOKEN)',
  );

  events
    .command('list')
    .description('list events: running ones first, then the most recently closed')
    .option('--status <status>', 'queued | processing | processed | parked | discarded | rejected | dead')
    .option('--source <source>', 'only this source')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON')
    .action(listEvents(getConfig));

  events
    .command('show')
    .argument('<id>', 'event id, <source>:<eventId>')
    .description('show one event (a spooled one is queued, a quarantined one rejected)')
    .action(async (id: string) => print(await new OperatorClient(getConfig()).showEvent(id)));

  quarantineCommands(events, getConfig);

  deadLetterCommands(events, getConfig);

  events
    .command('retry')
    .argument('[id]', 'event id of a parked event')
    .option('--parked', 'retry parked events (a redriveParked workflow)')
    .option('--source <source>', 'with --parked: only this source')
    .option('--issue <id>', 'with --parked: only this issue (see `events issues`)')
    .option('--dry-run', 'with --parked: only count, by issue; send nothing')
    .option('--canary <n>', 'with --parked: resume N or P% first; the rest only if all of them process')
    .option('--rate <r>', 'with --parked: retry signals per second')
    .description('resume a parked event, or parked ones')
    .action(async (id: string | undefined, o: RetryOptions) => {
      if (!id && !o.parked) throw new Error('give an event id, or --parked [--source S]');
      if (id && o.parked) throw new Error('give either an event id or --parked, not both');
      if (o.parked) return retryParked(getConfig(), o);
      await new OperatorClient(getConfig()).retry(id!);
      process.stdout.write(`retry sent to ${id}\n`);
    });

  events
    .command('discard')
    .argument('<id>', 'event id of a parked event')
    .option('--reason <reason>', 'why it is discarded (kept in the workflow result)')
    .description('give up on a parked event')
    .action(async (id: string, o: { reason?: string }) => {
      await new OperatorClient(getConfig()).discard(id, o.reason);
      process.stdout.write(`discarded ${id}\n`);
    });

  events.addCommand(issuesCommand(getConfig));
  events.addCommand(redrivesCommand(getConfig));
  events.addCommand(replayCommand(getConfig));
  events.addCommand(replaysCommand(getConfig));
  return events;
}

/** `intake events dead-letters drop|requeue <id>`: through the admin API (the spool is the API's). */
function deadLetterCommands(events: Command, getConfig: () => Config): void {
  const dead = events
    .command('dead-letters')
    .description(
      'drop or requeue a dead letter (a spooled start Temporal refused; list them with list --status dead)',
    );
  dead
    .command('drop')
    .argument('<id>', 'event id of a dead letter, <source>:<eventId>')
    .description('delete a dead letter for good')
    .action(async (id: string) =>
      print(await new OperatorClient(getConfig()).deadLetter({ id, action: 'drop' })),
    );
  dead
    .command('requeue')
    .argument('<id>', 'event id of a dead letter, <source>:<eventId>')
    .description('give a dead letter back to the relay, once what Temporal refused is fixed')
    .action(async (id: string) =>
      print(await new OperatorClient(getConfig()).deadLetter({ id, action: 'requeue' })),
    );
}
