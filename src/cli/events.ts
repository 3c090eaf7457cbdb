import { Command } from 'commander';
import type { Config } from '../config';
import { EventService, type EventSummary } from '../operations/event-service';
import type { Client } from '@temporalio/client';
import { withTemporal } from './reach';
import { issuesCommand, redrivesCommand, retryParked } from './redrive';
import { replayCommand, replaysCommand } from './replay';
import { adminApi } from './admin-api';

function withService<T>(config: Config, fn: (svc: EventService, client: Client) => Promise<T>): Promise<T> {
  return withTemporal(config, (client) => fn(new EventService(client), client));
}

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

/**
 * `intake events list`: Temporal's visibility, or the API for what only its store knows: quarantined
 * (`rejected`) events and dead letters of the start spool (`dead`).
 */
function listEvents(getConfig: () => Config) {
  return async (o: { status?: string; source?: string; limit: string; json?: boolean }): Promise<void> => {
    const config = getConfig();
    const rows =
      o.status === 'rejected' || o.status === 'dead'
        ? (
            (await adminApi(
              config,
              'GET',
              `/admin/events?${new URLSearchParams({ status: o.status, limit: o.limit, ...(o.source ? { source: o.source } : {}) })}`,
            )) as { events: EventSummary[] }
          ).events
        : await withService(config, (s) =>
            s.list({ status: o.status, source: o.source, limit: Number(o.limit) }),
          );
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

/**
 * `intake events show`: the API first when the admin token is set (it also knows spooled,
 * quarantined and archived events, and an event's revision), else or when it cannot answer, Temporal.
 */
function showEvent(getConfig: () => Config) {
  return async (id: string): Promise<void> => {
    const config = getConfig();
    let apiError: unknown;
    if (config.adminToken || id.startsWith('rejected:')) {
      try {
        return print(await adminApi(config, 'GET', `/events/${encodeURIComponent(id)}`));
      } catch (err) {
        apiError = err;
      }
    }
    if (id.startsWith('rejected:')) throw apiError;
    // Bounded, so a Temporal outage does not stall the command.
    print(
      await withService(config, (s, client) =>
        client.connection.withDeadline(Date.now() + 8000, () => s.get(id)),
      ),
    );
  };
}

/** `intake events reingest|drop ID`: a quarantined event, through the admin API (its store holds them). */
function quarantineCommands(events: Command, getConfig: () => Config): void {
  events
    .command('reingest')
    .argument('<id>', 'id of a rejected (quarantined) event, rejected:<uuid>')
    .description('ingest a quarantined event again, once the schema accepts it')
    .action(async (id: string) =>
      print(await adminApi(getConfig(), 'POST', `/admin/rejected/${encodeURIComponent(id)}/reingest`)),
    );

  events
    .command('drop')
    .argument('<id>', 'id of a rejected (quarantined) event, rejected:<uuid>')
    .description('delete a quarantined event for good')
    .action(async (id: string) =>
      print(await adminApi(getConfig(), 'POST', `/admin/rejected/${encodeURIComponent(id)}/drop`)),
    );
}

/** `intake events …`: operations on events, straight against Temporal. */
export function eventsCommand(getConfig: () => Config): Command {
  const events = new Command('events').description(
    'inspect and operate on events (talks to Temporal directly)',
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
    .action(showEvent(getConfig));

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
      if (o.parked) {
        const rate = o.rate === undefined ? undefined : Number(o.rate);
        return retryParked(getConfig(), { ...o, rate });
      }
      await withService(getConfig(), (s) => s.retry(id!));
      process.stdout.write(`retry sent to ${id}\n`);
    });

  events
    .command('discard')
    .argument('<id>', 'event id of a parked event')
    .option('--reason <reason>', 'why it is discarded (kept in the workflow result)')
    .description('give up on a parked event')
    .action(async (id: string, o: { reason?: string }) => {
      await withService(getConfig(), (s) => s.discard(id, o.reason));
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
      print(await adminApi(getConfig(), 'POST', `/admin/dead-letters/${encodeURIComponent(id)}/drop`)),
    );
  dead
    .command('requeue')
    .argument('<id>', 'event id of a dead letter, <source>:<eventId>')
    .description('give a dead letter back to the relay, once what Temporal refused is fixed')
    .action(async (id: string) =>
      print(await adminApi(getConfig(), 'POST', `/admin/dead-letters/${encodeURIComponent(id)}/requeue`)),
    );
}
