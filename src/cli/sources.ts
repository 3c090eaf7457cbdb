import { Command } from 'commander';
import { activeSources, type Config } from '../config';
import type { AnySource } from '../sources/types';

/** One line of `intake sources list`: what a provider sends to, how it is answered, where it goes. */
export function describeSource(source: AnySource, active: boolean): string {
  const delivery = (source as { delivery?: { url: string } }).delivery;
  const kind = delivery ? `file, delivers to ${delivery.url}` : 'code';
  const state = active ? 'on' : 'off (no secret)';
  return `${source.name}\tPOST /webhooks/${source.route}\t${source.successStatus}\t${kind}\t${state}`;
}

/**
 * `intake sources list|check`: the sources this configuration serves (code sources plus those of
 * INTAKE_SOURCES_FILE). Loading the configuration validates the file, so `check` exits 1 with the
 * file, entry and field named (main's error path) when it is bad: CI-friendly.
 */
export function sourcesCommand(getConfig: () => Config): Command {
  const cmd = new Command('sources').description(
    'the sources this configuration serves (INTAKE_SOURCES_FILE)',
  );
  cmd
    .command('list')
    .description('every source: name, route, success code, code or file (with its delivery URL), on or off')
    .action(() => {
      const config = getConfig();
      const active = new Set(activeSources(config));
      process.stdout.write('name\troute\tsuccess\tkind\tstate\n');
      for (const s of config.registry.all) process.stdout.write(describeSource(s, active.has(s.name)) + '\n');
    });
  cmd
    .command('check')
    .description('validate INTAKE_SOURCES_FILE and its secrets; exit 1 naming the entry and field when bad')
    .action(() => {
      const config = getConfig();
      const fileSources = config.registry.all.filter((s) => 'delivery' in s).length;
      const where = config.sourcesFile ?? 'no INTAKE_SOURCES_FILE';
      process.stdout.write(
        `ok: ${where}: ${fileSources} file source(s), ${config.registry.all.length} in all\n`,
      );
    });
  return cmd;
}
