import type { Failpoint } from '../src/failpoints';
import { PayloadOffload, withPayloadRefs } from '../src/payload-offload';
import type { Store } from '../src/store/store';
import { processMailgun } from './mailgun';
import { processPartners } from './partners';
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

/** Every activity, by the name the workflow calls (`handle<Source>`). */
export function createActivities(deps: ActivityDeps) {
  // Every activity gets its offloaded payload put back before it runs (claim check).
  return withPayloadRefs(deps.store, deps.payloads ?? new PayloadOffload(Infinity), {
    handleMailgun: runHandler(processMailgun(deps.store), deps.failpoints, deps.observer),
    handlePartners: runHandler(processPartners(deps.store), deps.failpoints, deps.observer),
  });
}

/** The activity interface, for `proxyActivities` typing. */
export type Activities = ReturnType<typeof createActivities>;
