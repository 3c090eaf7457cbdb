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

/** The handler activity the workflow calls by name through its typed proxy. */
export interface HandlerActivities {
  /** Processes one event with its source's processing (`Source.process`), chosen by `input.source`. */
  handleEvent: HandlerActivity;
}

/**
 * The handler activity of every source: `handleEvent`, which runs the event's source's processing
 * (src/sources/registry.ts), wrapped by runHandler. It is also registered under each source's old
 * activity name (`Source.activity`: `handleMailgun`, `handlePartners`, `deliverWebhook`) for runs
 * started before the `typed-handler-activity` patch, which schedule that name
 * (HISTORY_SHAPES.handlerByName in workflows/history-shapes.ts); those names go with that shape.
 */
export function createActivities(deps: ActivityDeps): HandlerActivities & Record<string, HandlerActivity> {
  const bySource = new Map<string, ProcessFn>(
    deps.sources.map((s) => [s.name, s.process(deps.store, deps.services)]),
  );
  const process: ProcessFn = async (input: HandlerInput) => {
    const fn = bySource.get(input.source);
    if (!fn) throw new Error(`no source ${input.source} in this worker's configuration`);
    return fn(input);
  };
  const handleEvent = runHandler(process, deps.failpoints, deps.observer, deps.store);
  const byOldName = Object.fromEntries(deps.sources.map((s) => [s.activity, handleEvent]));
  // Every activity gets its offloaded payload put back before it runs (claim check).
  return withPayloadRefs(deps.store, deps.payloads ?? new PayloadOffload(Infinity), {
    ...byOldName,
    handleEvent,
  });
}
