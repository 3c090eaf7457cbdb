import { deliverTo } from '../../activities/deliver';
import { processMailgun } from '../../activities/mailgun';
import { processPartners } from '../../activities/partners';
import type { FileSourceDefinition } from './file/file-source';
import { mailgunSource } from './mailgun';
import { partnersSource } from './partners';
import {
  boundAccept,
  configuredQuestions,
  type AnySource,
  type Source,
  type SourceDefinition,
} from './types';

/**
 * Joins a source definition to its activity's processing. The definition object itself becomes the
 * registered source (not a copy), so the source file's export and the registry are one object:
 * what the API checks and what the activity reads (e.g. `schema`) can never diverge.
 */
function withActivity<T, S>(definition: SourceDefinition<T, S>, process: Source<T, S>['process']): AnySource {
  const bound = { process, configured: configuredQuestions(definition), admit: boundAccept(definition) };
  return Object.assign(definition, bound);
}

/** The code sources: one line each. Adding a provider with its own processing: a file and a line. */
const builtIn: AnySource[] = [
  withActivity(mailgunSource, processMailgun),
  withActivity(partnersSource, processPartners),
];

/** Sources added at run time by tests and embedders (registerSource), before config is loaded. */
const added: AnySource[] = [];

/** The code sources, in registration order (built-in, then added ones). */
export function codeSources(): readonly AnySource[] {
  return [...builtIn, ...added];
}

/**
 * The sources of one process: the code sources and the sources file's, built once at start-up
 * (src/config.ts, from the composition root's environment) and handed to the API, the worker and
 * the CLI through the Config. Config (INTAKE_SOURCES, INTAKE_RATE_LIMITS, start-up checks),
 * development secrets, `intake send`, the webhook routes and the worker's activities derive from it.
 */
export class SourceRegistry {
  private readonly byName: ReadonlyMap<string, AnySource>;

  /** @param all every source, code sources first; names are unique (the file loader checks). */
  constructor(readonly all: readonly AnySource[]) {
    this.byName = new Map(all.map((s) => [s.name, s]));
  }

  /** The source registered under `name`, if any. */
  find(name: string): AnySource | undefined {
    return this.byName.get(name);
  }

  /** Every source's name. */
  names(): string[] {
    return this.all.map((s) => s.name);
  }
}

/** The registry of the code sources plus the sources file's (each file source delivers). */
export function buildRegistry(fileSources: readonly FileSourceDefinition[] = []): SourceRegistry {
  return new SourceRegistry([
    ...codeSources(),
    ...fileSources.map((def) => withActivity(def, deliverTo(def.delivery))),
  ]);
}

/**
 * Adds a code source at run time (before config is loaded and the API and worker are built);
 * returns the function that removes it again. For tests and embedders: a built-in provider is a
 * line above.
 */
export function registerSource<T, S>(
  definition: SourceDefinition<T, S>,
  process: Source<T, S>['process'],
): () => void {
  if (codeSources().some((s) => s.name === definition.name))
    throw new Error(`source "${definition.name}" is already registered`);
  const source = withActivity(definition, process);
  added.push(source);
  return () => {
    const i = added.indexOf(source);
    if (i >= 0) added.splice(i, 1);
  };
}
