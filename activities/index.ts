import type { Failpoint } from '../src/failpoints';
import type { Store } from '../src/store/store';
import { processMailgun } from './mailgun';
import { runHandler, type HandlerObserver } from './run-handler';

/** What the activities need from the worker process. */
export interface ActivityDeps {
  store: Store;
  failpoints: Failpoint[];
  observer?: HandlerObserver;
}

/** Every activity, by the name the workflow calls (`handle<Source>`). */
export function createActivities(deps: ActivityDeps) {
  return {
    handleMailgun: runHandler(processMailgun(deps.store), deps.failpoints, deps.observer),
  };
}

/** The activity interface, for `proxyActivities` typing. */
export type Activities = ReturnType<typeof createActivities>;
