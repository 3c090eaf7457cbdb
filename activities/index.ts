import type { Failpoint } from '../src/worker/failpoints';
import { PayloadOffload, withPayloadRefs } from '../src/ingest/payload-offload';
import type { Store } from '../src/store/store';
import type { AnySource } from '../src/sources/types';
import type { HandlerInput } from '../workflows/types';
import { runHandler, type HandlerObserver, type ProcessFn, type ProcessServices } from './run-handler';

/** What the activities need from the worker process. */
export interface ActivityDeps {
  store: Store;
  /** Every source of the process (Config.registry.all): each one's processing becomes an activity. */
  sources: readonly AnySource[];
  /** Tracing and metrics for processing that calls out (file sources' delivery). */
  services?: ProcessServices;
  failpoints: Failpoint[];
  observer?: HandlerObserver;
  /**
   * Reads offloaded (large) payloads back from the store, decrypting them with the worker's codec.
   * Default: a reader without a codec, which can read only unencrypted rows.
   */
  payloads?: PayloadOffload;
}

/** A handler activity: one event in, its attempt number and whether it changed anything out. */
export type HandlerActivity = ReturnType<typeof runHandler>;

/**
 * Every source's activity (src/sources/registry.ts), by the name the workflow calls
 * (`Source.activity`, `handle<Source>`): the source's processing wrapped by runHandler.
 */
export function createActivities(deps: ActivityDeps): Record<string, HandlerActivity> {
  // Sources sharing an activity (every file source delivers through `deliverWebhook`) are told
  // apart by the event's source.
  const bySource = new Map<string, Map<string, ProcessFn>>();
  for (const s of deps.sources) {
    const group = bySource.get(s.activity) ?? new Map<string, ProcessFn>();
    group.set(s.name, s.process(deps.store, deps.services));
    bySource.set(s.activity, group);
  }
  const handlers = Object.fromEntries(
    [...bySource].map(([activity, group]) => {
      const process: ProcessFn = async (input: HandlerInput) => {
        const fn = group.get(input.source);
        if (!fn) throw new Error(`no source ${input.source} in this worker's configuration`);
        return fn(input);
      };
      return [activity, runHandler(process, deps.failpoints, deps.observer, deps.store)];
    }),
  );
  // Every activity gets its offloaded payload put back before it runs (claim check).
  return withPayloadRefs(deps.store, deps.payloads ?? new PayloadOffload(Infinity), handlers);
}

/** The activity interface, for `proxyActivities` typing. */
export type Activities = ReturnType<typeof createActivities>;
