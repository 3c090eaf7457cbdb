import { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import type { Config } from '../config';
import type { ReplayView } from '../operations/replay-service';
import { parseRequest, replayRequestSchema } from '../operations/requests';
import { OperatorClient } from './operator-client';

const out = (line: string): void => {
  process.stdout.write(line + '\n');
};

interface ReplayFlags {
  source?: string;
  type?: string;
  since?: string;
  until?: string;
  id?: string[];
  status?: string;
  dryRun?: boolean;
  canary?: string;
  rate?: string;
  reason?: string;
}

/** The request the flags describe, before replayRequestSchema (the API's own) checks it. */
function requestOf(o: ReplayFlags) {
  return {
    source: o.source,
    ...(o.type ? { type: o.type } : {}),
    ...(o.since ? { since: o.since } : {}),
    ...(o.until ? { until: o.until } : {}),
    ...(o.id?.length ? { ids: o.id } : {}),
    ...(o.status ? { status: o.status } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
    ...(o.canary ? { canary: o.canary } : {}),
    ...(o.rate !== undefined ? { rate: Number(o.rate) } : {}),
    reason: o.reason ?? '',
  };
}

const counts = (v: ReplayView) =>
  `${v.replayed} replayed, ${v.parked} parked, ${v.notStarted} not started of ${v.matched} matched`;

/** Follows a replay with a progress bar until it closes (Ctrl-C leaves it running: it is a workflow). */
async function follow(api: OperatorClient, id: string, total: number): Promise<ReplayView> {
  const bar = new SingleBar(
    { format: 'replay {bar} {value}/{total} replayed', noTTYOutput: false },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  try {
    for (;;) {
      const view = await api.replayView(id);
      bar.update(view.replayed);
      if (view.status !== 'running') return view;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    bar.stop();
  }
}

/**
 * `intake events replay --source S … --reason TEXT`: runs archived events again through the current
 * code (a replayEvents workflow, started through the admin API: the archive is in the API's store).
 */
export function replayCommand(getConfig: () => Config): Command {
  return new Command('replay')
    .description('replay archived events through the current code (a bug that did not throw)')
    .requiredOption('--source <source>', 'the source of the events')
    .option('--type <type>', 'only this event type')
    .option('--since <iso>', 'received at or after (ISO 8601)')
    .option('--until <iso>', 'received at or before (ISO 8601; default now)')
    .option('--id <id...>', 'only these event ids (<source>:<eventId> or <eventId>)')
    .option('--status <status>', 'processed | discarded (default processed)')
    .option('--dry-run', 'only count the matching events; replay nothing')
    .option('--canary <n>', 'replay N or P% first, one at a time; stop at the first that parks')
    .option('--rate <r>', 'replays started per second')
    .requiredOption('--reason <text>', 'why (kept with the replay)')
    .action(async (o: ReplayFlags) => {
      const api = new OperatorClient(getConfig());
      const req = parseRequest(replayRequestSchema, requestOf(o));
      const started = await api.replay(req);
      const what = `matched ${started.matched} archived event(s) of ${req.source}${req.type ? ` (${req.type})` : ''}`;
      if (!('replay' in started)) return out(`dry run: ${what}; nothing replayed`);
      out(`${what}; replay ${started.replay}`);
      const view = await follow(api, started.replay, started.matched);
      if (view.status === 'completed') return out(`replay completed: ${counts(view)}`);
      if (view.status === 'stopped') {
        const by = view.stoppedBy;
        out(
          `canary stopped the replay: ${by?.runId ?? 'an event'} parked (${by?.lastError ?? 'no error'}); ${counts(view)}`,
        );
      } else out(`replay ${view.status}: ${counts(view)}`);
      process.exitCode = 1;
    });
}

/** `intake events replays [show|cancel ID]`. */
export function replaysCommand(getConfig: () => Config): Command {
  return new Command('replays')
    .description('list replays; `show ID` or `cancel ID` one of them')
    .argument('[action]', 'show | cancel')
    .argument('[id]', 'replay id (replay:…)')
    .action(async (action: string | undefined, id: string | undefined) => {
      const api = new OperatorClient(getConfig());
      if (action === undefined) {
        const replays = await api.replays();
        if (replays.length === 0) return out('no replays');
        for (const r of replays)
          out(`${r.status.padEnd(10)} ${r.createdAt}  ${r.id}  ${counts(r)}  ${r.reason}`);
        return;
      }
      if (!id || (action !== 'show' && action !== 'cancel'))
        throw new Error('usage: replays [show|cancel ID]');
      if (action === 'show') return out(JSON.stringify(await api.replayView(id), null, 2));
      await api.cancelReplay(id);
      out(`cancel requested for ${id}; events not yet replayed are not`);
    });
}
