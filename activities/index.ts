import type { Failpoint } from '../src/worker/failpoints';
import { PayloadOffload, withPayloadRefs } from '../src/ingest/payload-offload';
import type { Store } from '../src/store/store';
import { sources } from '../src/sources/registry';
import { runHandler, type HandlerObserver } from './run-handler';

/** What the activities need from the worker process. */
export interface ActivityDeps {
  store: Store;
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
  const handlers = Object.fromEntries(
    sources.map((s) => [
      s.activity,
      runHandler(s.process(deps.store), deps.failpoints, deps.observer, deps.store),
    ]),
  );
  // Every activity gets its offloaded payload put back before it runs (claim check).
  return withPayloadRefs(deps.store, deps.payloads ?? new PayloadOffload(Infinity), handlers);
}

/** The activity interface, for `proxyActivities` typing. */
export type Activities = ReturnType<typeof createActivities>;
