import { processMailgun } from '../../activities/mailgun';
import { processPartners } from '../../activities/partners';
import { mailgunSource } from './mailgun';
import { partnersSource } from './partners';
import type { AnySource, Source, SourceDefinition } from './types';

/**
 * Joins a source definition to its activity's processing. The definition object itself becomes the
 * registered source (not a copy), so the source file's export and the registry are one object:
 * what the API checks and what the activity reads (e.g. `schema`) can never diverge.
 */
function withActivity<T, S>(definition: SourceDefinition<T, S>, process: Source<T, S>['process']): AnySource {
  return Object.assign(definition, { process }) as unknown as AnySource;
}

const registered: AnySource[] = [
  withActivity(mailgunSource, processMailgun),
  withActivity(partnersSource, processPartners),
];

/**
 * Every source, in registration order. Adding a provider: one file in src/sources/, one activity,
 * one line above. Config (env variables, INTAKE_SOURCES, start-up checks), development secrets,
 * `intake send`, the webhook routes and the worker's activities all derive from this list.
 */
export const sources: readonly AnySource[] = registered;

/** The source registered under `name`, if any. */
export function findSource(name: string): AnySource | undefined {
  return sources.find((s) => s.name === name);
}

/**
 * Adds a source at run time (before config is loaded and the API and worker are built); returns
 * the function that removes it again. For tests and embedders: a built-in provider is a line above.
 */
export function registerSource<T, S>(
  definition: SourceDefinition<T, S>,
  process: Source<T, S>['process'],
): () => void {
  if (findSource(definition.name)) throw new Error(`source "${definition.name}" is already registered`);
  const source = withActivity(definition, process);
  registered.push(source);
  return () => {
    const i = registered.indexOf(source);
    if (i >= 0) registered.splice(i, 1);
  };
}
