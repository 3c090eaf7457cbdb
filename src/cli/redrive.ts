import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import type { Config } from '../config';
import type { Issue } from '../operations/parked-events';
import type { RedriveView } from '../operations/redrive-service';
import { OperatorClient } from './operator-client';

const out = (line: string): void => {
  process.stdout.write(line + '\n');
};
const print = (v: unknown): void => out(JSON.stringify(v, null, 2));

function printIssues(issues: Issue[]): void {
  for (const i of issues) {
    out(`${i.id}  ${String(i.count).padStart(5)}  ${i.signature}`);
    out(
      `              types ${i.eventTypes.join(', ') || '?'}; parked ${i.firstParkedAt ?? '?'} .. ${i.lastParkedAt ?? '?'}`,
    );
    out(`              e.g. ${i.sampleIds.join(' ')}`);
  }
}

/** `intake events issues [--source S] [--json]`: parked events grouped by error signature. */
export function issuesCommand(getConfig: () => Config): Command {
  return new Command('issues')
    .description('parked events grouped by error signature (id, count, event types, when, samples)')
    .option('--source <source>', 'only this source')
    .option('--json', 'print JSON')
    .action(async (o: { source?: string; json?: boolean }) => {
      const issues = await new OperatorClient(getConfig()).issues({ source: o.source });
      if (o.json) return print(issues);
      if (issues.length === 0) return out('no parked events');
      out(`${'issue'.padEnd(12)}  count  source error`);
      printIssues(issues);
    });
}

/** `intake events redrives [show|cancel ID]`: the redriveParked workflows. */
export function redrivesCommand(getConfig: () => Config): Command {
  return new Command('redrives')
    .description('list redrives of parked events; `show ID` or `cancel ID` one of them')
    .argument('[action]', 'show | cancel')
    .argument('[id]', 'redrive id (redrive:…)')
    .action(async (action: string | undefined, id: string | undefined) => {
      const api = new OperatorClient(getConfig());
      if (action === undefined) {
        const rows = await api.redrives();
        if (rows.length === 0) return out('no redrives');
        for (const r of rows) out(`${r.status.padEnd(10)} ${r.startedAt}  ${r.id}`);
        return;
      }
      if (!id || (action !== 'show' && action !== 'cancel'))
        throw new Error('usage: redrives [show|cancel ID]');
      if (action === 'show') return print(await api.redrive(id));
      await api.cancelRedrive(id);
      out(`cancel requested for ${id}; events not yet signalled stay parked`);
    });
}

/** The options of `intake events retry --parked`, as given (checked by redriveRequestSchema). */
export interface RetryParkedOptions {
  source?: string;
  issue?: string;
  dryRun?: boolean;
  canary?: string;
  rate?: string;
}

/**
 * `intake events retry --parked …`: a dry run prints the count by issue; otherwise starts a
 * redriveParked workflow and follows it with a progress bar until it closes (Ctrl-C leaves it
 * running: it is a workflow).
 */
export async function retryParked(config: Config, o: RetryParkedOptions): Promise<void> {
  const api = new OperatorClient(config);
  const req = {
    ...(o.source !== undefined ? { source: o.source } : {}),
    ...(o.issue !== undefined ? { issue: o.issue } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
    ...(o.canary !== undefined ? { canary: o.canary } : {}),
    ...(o.rate !== undefined ? { rate: o.rate } : {}),
  };
  const started = await api.retryParked(req);
  const what = `matched ${started.matched} parked event(s)${req.source ? ` of ${req.source}` : ''}${req.issue ? ` with issue ${req.issue}` : ''}`;
  if (!('redrive' in started)) {
    out(`dry run: ${what}; nothing sent`);
    printIssues(started.issues);
    return;
  }
  out(`${what}; redrive ${started.redrive}`);
  const view = await follow(api, started.redrive, started.matched);
  if (view.phase === 'done') out(`${what}; ${started.matched > 0 ? 'retry sent' : 'nothing to retry'}`);
  else if (view.phase === 'stopped') {
    out(`canary failed, redrive stopped: ${view.reason ?? ''} (workflow ${view.status})`);
    for (const p of view.parkedAgain ?? []) out(`  parked again: ${p.id}  issue ${p.issue}  ${p.signature}`);
    process.exitCode = 1;
  } else {
    out(
      `redrive ${view.status} (${view.phase ?? '?'}) after ${view.signalled ?? '?'} signal(s); the rest stay parked`,
    );
    process.exitCode = 1;
  }
}

async function follow(api: OperatorClient, id: string, total: number): Promise<RedriveView> {
  const bar = new SingleBar(
    { format: 'redrive {phase} {bar} {value}/{total} signalled', noTTYOutput: false },
    Presets.shades_classic,
  );
  bar.start(total, 0, { phase: 'canary' });
  let phase: string | undefined;
  try {
    for (;;) {
      const view = await api.redrive(id);
      bar.update(view.signalled ?? 0, { phase: view.phase ?? '' });
      if (view.phase !== phase && view.phase === 'canary' && (view.sample ?? 0) > 0) {
        bar.stop();
        out(`canary: ${view.sample} event(s) sampled; waiting for them to settle`);
        bar.start(total, view.signalled ?? 0, { phase: view.phase });
      }
      phase = view.phase;
      if (view.status !== 'running') return view;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    bar.stop();
  }
}
