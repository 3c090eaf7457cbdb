import { patched, workflowInfo } from '@temporalio/workflow';
import type { ProcessEventInput } from './types';

/** Patch id of the local-first happy path (issue 10). */
export const LOCAL_FIRST_PATCH = 'local-activity-first';
/** Patch id of the archive's settlement: a parked or discarded event tells the store's archive. */
export const ARCHIVE_SETTLE_PATCH = 'archive-settle';
/** Patch id of the IntakeIssue search attribute, written at parking, removed at resume (issue 21). */
export const ISSUE_ATTRIBUTE_PATCH = 'intake-issue-attribute';
/**
 * Patch id of the typed handler activity (issue 21): every event's handler is `handleEvent`, which
 * the worker dispatches on the event's source, instead of the activity named in the input.
 */
export const TYPED_HANDLER_PATCH = 'typed-handler-activity';

/**
 * Every history shape processEvent must still replay, and when its branch can be deleted, in one
 * place. A branch can go once no execution that may take it can be replayed any more: no run
 * started before the deploy that introduced its successor is still running (a parked event waits
 * as long as nobody retries or discards it, so check with `temporal workflow count --query
 * 'ExecutionStatus="Running" AND StartTime < "<deploy>"'`), and then the namespace retention has
 * passed (a closed run is replayed to answer a query). So: removable at the earliest on
 * deploy + longest parked lifetime + retention; then `deprecatePatch`, drop its fixtures
 * (docs/workflow-changes.md). `since` is the commit date; use your deploy date.
 *
 * The first three are the shape of the handler rounds, chosen once per run ({@link chooseShape});
 * the next one is the handler activity's type, chosen once per run after them
 * ({@link handlerByName}); the last two are asked at each parking, in this order (park in process-event.ts): a run that
 * parked before a patch and parks again after a resume on new code takes the new branch then (its
 * marker lands mid-history, which replays).
 */
export const HISTORY_SHAPES = {
  /** v1-* fixtures: regular activity first, `processing` upserted before every round. */
  regularFirst: {
    since: 'before 2026-11-25',
    removable: 'local-activity-first deploy + parked lifetime + retention',
  },
  /** v2-*: local activity first, chosen by patched('local-activity-first') (a marker in history). */
  localFirstByPatch: {
    since: '2026-11-25',
    removable: 'localFirst-input deploy + parked lifetime + retention',
  },
  /** v3-*, v4-*, unprefixed: local first because the starter put `localFirst: true` in the input. */
  localFirstByInput: { since: '2026-11-25', removable: 'current: never' },
  /**
   * v1-* to v4-*, unprefixed: the handler activity is the one named in the input (`input.activity`,
   * Source.activity: `handleMailgun`, `handlePartners`, `deliverWebhook`); the worker registers
   * those names for them (activities/index.ts). v5-*: `handleEvent`, chosen by
   * patched('typed-handler-activity') (a marker in history). With this branch go the old names'
   * registration, `input.activity` and Source.activity.
   */
  handlerByName: {
    since: 'before 2026-12-02',
    removable: 'typed-handler-activity deploy + parked lifetime + retention',
  },
  /** Unprefixed fixtures and older park without telling the archive; v3-* and later do. */
  archiveSettle: {
    since: '2026-12-02',
    removable: 'the branch without it: archive-settle deploy + parked lifetime + retention',
  },
  /** v4-*: a parking writes IntakeIssue (with the status, one upsert), a resume removes it. */
  issueAttribute: {
    since: '2026-12-02',
    removable: 'the branch without it: intake-issue-attribute deploy + parked lifetime + retention',
  },
} as const;

/** How a run's handler rounds look (the first three {@link HISTORY_SHAPES}). */
export type RoundShape = 'regularFirst' | 'localFirstByPatch' | 'localFirstByInput';

/**
 * The round shape of this run. A rate-limited source (INTAKE_RATE_LIMITS) goes through its own
 * task queue, whose rate the server enforces: a local activity would bypass it, so it keeps the
 * regular-first shape without asking. Input is in the history, so this is deterministic:
 *  - the API asks for local-first in the input: a fresh run writes no patch marker and no
 *    TemporalChangeVersion upsert (two history events fewer per event);
 *  - runs started before that ask patched(), once (v1 and v2 histories);
 *  - a start from the current API that a worker of the previous release ran first has the patch
 *    marker in its history (that worker asked patched()). On replay, patched() only reads the
 *    history: true with its marker command when the marker is there, false and no command when
 *    not. A fresh run must not ask it (it would write the marker).
 */
export function chooseShape(input: ProcessEventInput): RoundShape {
  const askedInInput = input.localFirst === true;
  if (askedInInput && workflowInfo().unsafe.isReplaying) patched(LOCAL_FIRST_PATCH);
  if (input.activityTaskQueue) return 'regularFirst';
  if (askedInInput) return 'localFirstByInput';
  return patched(LOCAL_FIRST_PATCH) ? 'localFirstByPatch' : 'regularFirst';
}

/**
 * True when this run calls its handler by the activity name in its input (HISTORY_SHAPES.handlerByName):
 * it started before the `typed-handler-activity` patch. Asked once per run, after {@link chooseShape}
 * and before the first handler call; a fresh run writes the patch marker and calls `handleEvent`.
 */
export function handlerByName(): boolean {
  return !patched(TYPED_HANDLER_PATCH);
}
