import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  patched,
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  setCurrentDetails,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
  type Sinks,
} from '@temporalio/workflow';
import { RetryState, type SearchAttributeUpdatePair } from '@temporalio/common';
import type { Activities } from '../activities';
import type { createArchiveActivities } from '../activities/archive';
import { errorSignature, issueIdOf } from './error-signature';
import { PERMANENT_ERROR_TYPE } from './failure-types';
import { IntakeIssue, IntakeStatus } from './search-attributes';
import type { DiscardRequest, EventState, EventStatus, HandlerResult, ProcessEventInput } from './types';

/** Resume a parked event: run the handler again with a fresh retry budget. */
export const retrySignal = defineSignal<[]>('retry');
/** Give up on a parked event; the workflow completes with status `discarded`. */
export const discardSignal = defineSignal<[DiscardRequest?]>('discard');
/** The event's current state (answers GET /events/:id while the workflow runs). */
export const statusQuery = defineQuery<EventState>('status');

export { PERMANENT_ERROR_TYPE };

/**
 * What processEvent tells the worker process (not the history): the worker counts parked events
 * in intake_events_parked_total. Sink calls are not commands, and are not repeated on replay.
 */
export interface EventSinks extends Sinks {
  events: { parked(source: string): void };
}
const { events: eventSink } = proxySinks<EventSinks>();

/**
 * Patch id of the local-first happy path. Executions that started before it (recorded histories,
 * events parked or in flight at the deploy) keep the old shape: `processing` upsert, regular activity.
 */
export const LOCAL_FIRST_PATCH = 'local-activity-first';

/**
 * Patch id of the archive's settlement: an event that parks or is discarded tells the store's
 * archive (a local activity, off the happy path), so the archive knows after Temporal deleted the
 * workflow. Executions that parked before it do not (their histories have no such marker).
 */
export const ARCHIVE_SETTLE_PATCH = 'archive-settle';

/**
 * Patch id of the IntakeIssue search attribute: an event that parks writes its issue id (with
 * `IntakeStatus=parked`, one upsert) and removes it when a `retry` resumes it, so one visibility
 * query finds an issue's parked events. Events that parked before it carry none (a resumed one that
 * parks again on the new code gets it then); operators' listing falls back to the status query for
 * them (src/operations/parked-events.ts).
 */
export const ISSUE_ATTRIBUTE_PATCH = 'intake-issue-attribute';

const { settleArchivedEvent } = proxyLocalActivities<ReturnType<typeof createArchiveActivities>>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
});

/** Quick attempts of the local activity, at most; the rest of the round's budget is the regular activity's. */
export const LOCAL_ATTEMPTS = 3;
/** Start-to-close timeout of one local attempt (capped by the configured activity timeout). */
export const LOCAL_TIMEOUT_MS = 10_000;

/** One source's handler activity (`handle<Source>`), as the activity factory types it. */
type Handler = Activities[keyof Activities];

/**
 * How one round's attempt budget splits between the quick local attempts and the regular activity:
 * the local activity gets at most half of it (at least one attempt), so a failing handler still
 * shows up as a pending activity with its attempts and last failure before it parks. The total
 * stays the configured budget, so `attempts` of a parked event is the same as before.
 */
export function splitBudget(maxAttempts: number): { local: number; regular: number } {
  const local = Math.max(1, Math.min(LOCAL_ATTEMPTS, Math.floor(maxAttempts / 2)));
  return { local, regular: Math.max(0, maxAttempts - local) };
}

/**
 * The failure of one handler call: a regular activity's comes wrapped in an ActivityFailure; a
 * local activity's arrives as its cause itself (the ApplicationFailure, or a TimeoutFailure).
 */
type HandlerFailure = ActivityFailure | ApplicationFailure | TimeoutFailure;

function isHandlerFailure(err: unknown): err is HandlerFailure {
  return err instanceof ActivityFailure || err instanceof ApplicationFailure || err instanceof TimeoutFailure;
}

function failureCause(err: HandlerFailure): Error | undefined {
  return err instanceof ActivityFailure ? err.cause : err;
}

function failureAttempts(err: HandlerFailure, budget: number): number {
  const cause = failureCause(err);
  if (cause instanceof ApplicationFailure) {
    const detail = cause.details?.[0] as { attempt?: unknown } | undefined;
    if (typeof detail?.attempt === 'number') return detail.attempt;
  }
  // A local activity that timed out on every quick attempt spent them all.
  if (!(err instanceof ActivityFailure)) return budget;
  return err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED ? budget : 1;
}

function isPermanent(err: HandlerFailure): boolean {
  const cause = failureCause(err);
  return cause instanceof ApplicationFailure && cause.type === PERMANENT_ERROR_TYPE;
}

function failureMessage(err: HandlerFailure): string {
  const cause = failureCause(err);
  const type = cause instanceof ApplicationFailure && cause.type ? cause.type : (cause?.name ?? 'Error');
  return `${type}: ${cause?.message ?? err.message}`.slice(0, 2000);
}

/** The event's state in words, for the Web UI's Current Details (markdown). */
export function currentDetails(state: EventState): string {
  switch (state.status) {
    case 'parked':
      return [
        `**parked**: ${errorSignature(state.source, state.lastError).signature}`,
        '',
        `${state.attempts} attempt(s). After the fix: More Actions → Send a Signal \`retry\` (or \`discard\`),`,
        `or \`npx intake events retry '${state.id}'\`. Never Reset or Cancel: that drops the event.`,
      ].join('\n');
    case 'processing':
      return state.attempts > 0
        ? `**processing**: retrying after ${state.attempts} failed attempt(s), last: ${errorSignature(state.source, state.lastError).signature}`
        : '**processing**';
    case 'discarded':
      return '**discarded** by an operator';
    default:
      return `**${state.status}**`;
  }
}

/**
 * One event, from acceptance to a final state. The handler first runs as a local activity (a few
 * quick attempts in the same workflow task, no extra server round trip), and the status search
 * attribute is written once, when the event settles. When the quick attempts fail, the handler
 * falls back to a regular activity under the configured retry policy (a pending activity, visible
 * in the Web UI and `temporal workflow describe`); when that budget is spent too, or the handler
 * fails permanently, the event parks (it does not fail) and waits for a `retry` or `discard`
 * signal. The history is the durable queue.
 */
export async function processEvent(input: ProcessEventInput): Promise<EventState> {
  const {
    activity,
    retry,
    activityTimeoutMs,
    heartbeatTimeoutMs,
    activityTaskQueue,
    localFirst: _shape,
    ...handlerInput
  } = input;
  const state: EventState = {
    id: input.id,
    source: input.source,
    eventType: input.eventType,
    status: 'queued',
    attempts: 0,
    lastError: null,
    receivedAt: input.receivedAt,
    processedAt: null,
  };
  let decision: 'retry' | 'discard' | undefined;
  // This run wrote IntakeIssue (it parked under the patch): a resume removes it with its first upsert.
  let issueWritten = false;

  const setStatus = (
    status: EventStatus,
    searchAttribute = true,
    extra: SearchAttributeUpdatePair[] = [],
  ) => {
    state.status = status;
    if (searchAttribute) {
      const pairs: SearchAttributeUpdatePair[] = [{ key: IntakeStatus, value: status }, ...extra];
      if (issueWritten && status === 'processing') {
        pairs.push({ key: IntakeIssue, value: null });
        issueWritten = false;
      }
      upsertSearchAttributes(pairs);
    }
    // The Web UI's workflow page shows this (Current Details) without per-browser set-up: a parked
    // event is `Running` to Temporal. Not a command (the SDK answers it from workflow state through
    // the __temporal_workflow_metadata query), so running and recorded histories replay unchanged.
    // The signature is the normalised error (no ids, values or emails), as `intake events issues`.
    setCurrentDetails(currentDetails(state));
  };

  setHandler(statusQuery, () => state);
  setHandler(retrySignal, () => {
    if (state.status === 'parked') decision = 'retry';
  });
  setHandler(discardSignal, (req?: DiscardRequest) => {
    if (state.status !== 'parked') return;
    decision = 'discard';
    if (req?.reason) state.discardReason = String(req.reason).slice(0, 500);
  });

  // A rate-limited source (INTAKE_RATE_LIMITS) must go through its own task queue, whose rate the
  // server enforces: a local activity would bypass it. Input is in the history, so this is
  // deterministic, and a run keeps the shape it started with:
  //  - the API asks for the local-first shape in the input: a fresh run writes no patch marker and
  //    no TemporalChangeVersion upsert (two history events fewer per event);
  //  - runs started before that ask patched(), once (v1 and v2 histories);
  //  - a start from the current API that a worker of the previous release ran first has the patch
  //    marker in its history (that worker asked patched()). On replay, patched() only reads the
  //    history: true with its marker command when the marker is there, false and no command when
  //    not. A fresh run must not ask it (it would write the marker).
  const askedInInput = input.localFirst === true;
  if (askedInInput && workflowInfo().unsafe.isReplaying) patched(LOCAL_FIRST_PATCH);
  const localFirst = !activityTaskQueue && (askedInInput || patched(LOCAL_FIRST_PATCH));
  const budget = localFirst ? splitBudget(retry.maxAttempts) : { local: 0, regular: retry.maxAttempts };

  const retryPolicy = (maximumAttempts: number) => ({
    maximumAttempts,
    initialInterval: retry.initialIntervalMs,
    maximumInterval: retry.maxIntervalMs,
    backoffCoefficient: 2,
    nonRetryableErrorTypes: [PERMANENT_ERROR_TYPE],
  });
  // The activity name comes from the event's input (the source's `activity`); an unknown one fails below.
  const name = activity as keyof Activities;
  const regular = proxyActivities<Activities>({
    ...(activityTaskQueue ? { taskQueue: activityTaskQueue } : {}),
    startToCloseTimeout: activityTimeoutMs,
    // The handler heartbeats while it works (activities/run-handler.ts): an attempt whose worker
    // died, or that the server recorded as started but no worker received, is retried after the
    // heartbeat timeout instead of hanging for the whole start-to-close timeout. Activity options
    // are not part of the determinism check, so this needs no patch.
    ...(heartbeatTimeoutMs ? { heartbeatTimeout: heartbeatTimeoutMs } : {}),
    retry: retryPolicy(budget.regular),
  })[name] as Handler | undefined;
  const local = proxyLocalActivities<Activities>({
    startToCloseTimeout: Math.min(activityTimeoutMs, LOCAL_TIMEOUT_MS),
    retry: {
      ...retryPolicy(budget.local),
      // Quick: the local attempts hold the workflow task, so they back off briefly.
      initialInterval: Math.min(retry.initialIntervalMs, 100),
      maximumInterval: Math.min(retry.maxIntervalMs, 1000),
    },
  })[name] as Handler | undefined;
  if (!regular || !local) throw ApplicationFailure.nonRetryable(`no activity ${activity}`);

  /** One call of the handler: its result, or its failure with the attempts and error recorded. */
  const run = async (handle: Handler, attemptBudget: number): Promise<HandlerResult | HandlerFailure> => {
    try {
      return await handle(handlerInput);
    } catch (err) {
      if (!isHandlerFailure(err)) throw err;
      state.attempts += failureAttempts(err, attemptBudget);
      state.lastError = failureMessage(err);
      return err;
    }
  };

  for (;;) {
    let outcome: HandlerResult | HandlerFailure | undefined;
    if (localFirst) {
      // The happy path: no search attribute until the event settles (the status query and
      // GET /events/:id still say `processing`). A resumed round says so at once.
      setStatus('processing', state.attempts > 0);
      outcome = await run(local, budget.local);
    }
    // The fallback; a permanent error parks without spending the rest of the budget.
    const fallBack = isHandlerFailure(outcome) && !isPermanent(outcome) && budget.regular > 0;
    if (outcome === undefined || fallBack) {
      setStatus('processing');
      outcome = await run(regular, budget.regular);
    }
    if (!isHandlerFailure(outcome)) {
      // Attempts of a failed quick round are already counted; add the ones of this call.
      state.attempts += outcome.attempt;
      state.lastError = null;
      state.processedAt = new Date().toISOString();
      setStatus('processed');
      return state;
    }
    const issue = patched(ISSUE_ATTRIBUTE_PATCH) ? issueIdOf(state.source, state.lastError) : undefined;
    setStatus('parked', true, issue ? [{ key: IntakeIssue, value: issue }] : []);
    issueWritten = issue !== undefined;
    eventSink.parked(state.source);
    const settle = async (status: 'parked' | 'discarded') => {
      if (!patched(ARCHIVE_SETTLE_PATCH)) return;
      const revision = input.revision ?? 1;
      await settleArchivedEvent({ id: input.id, status, lastError: state.lastError, revision });
    };
    await settle('parked');
    await condition(() => decision !== undefined);
    if (decision === 'discard') {
      setStatus('discarded');
      await settle('discarded');
      return state;
    }
    decision = undefined;
  }
}
