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
  type Sinks,
} from '@temporalio/workflow';
import { RetryState, type SearchAttributeUpdatePair } from '@temporalio/common';
import type { HandlerActivities } from '../activities';
import type { createArchiveActivities } from '../activities/archive';
import { errorSignature, issueIdOf } from './error-signature';
import { PERMANENT_ERROR_TYPE } from './failure-types';
import {
  ARCHIVE_SETTLE_PATCH,
  chooseShape,
  handlerByName,
  ISSUE_ATTRIBUTE_PATCH,
  LOCAL_FIRST_PATCH,
  TYPED_HANDLER_PATCH,
  type RoundShape,
} from './history-shapes';
import { IntakeIssue, IntakeStatus } from './search-attributes';
import type {
  DiscardRequest,
  EventState,
  EventStatus,
  HandlerInput,
  HandlerResult,
  ProcessEventInput,
} from './types';

/** Resume a parked event: run the handler again with a fresh retry budget. */
export const retrySignal = defineSignal<[]>('retry');
/** Give up on a parked event; the workflow completes with status `discarded`. */
export const discardSignal = defineSignal<[DiscardRequest?]>('discard');
/** The event's current state (answers GET /events/:id while the workflow runs). */
export const statusQuery = defineQuery<EventState>('status');

export {
  PERMANENT_ERROR_TYPE,
  ARCHIVE_SETTLE_PATCH,
  ISSUE_ATTRIBUTE_PATCH,
  LOCAL_FIRST_PATCH,
  TYPED_HANDLER_PATCH,
};

/**
 * What processEvent tells the worker process (not the history): the worker counts parked events
 * in intake_events_parked_total. Sink calls are not commands, and are not repeated on replay.
 */
export interface EventSinks extends Sinks {
  events: { parked(source: string): void };
}
const { events: eventSink } = proxySinks<EventSinks>();

const { settleArchivedEvent } = proxyLocalActivities<ReturnType<typeof createArchiveActivities>>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
});

/** Quick attempts of the local activity, at most; the rest of the round's budget is the regular activity's. */
export const LOCAL_ATTEMPTS = 3;
/** Start-to-close timeout of one local attempt (capped by the configured activity timeout). */
export const LOCAL_TIMEOUT_MS = 10_000;

/** The handler activity, as the activity factory types it. */
type Handler = HandlerActivities['handleEvent'];

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

/** What one run of processEvent keeps between its rounds. */
interface EventRun {
  input: ProcessEventInput;
  state: EventState;
  shape: RoundShape;
  budget: { local: number; regular: number };
  /** The handler, as a local activity (local-first shapes) and as a regular one. */
  handler: { local: Handler; regular: Handler };
  /** The operator's answer to a parking. */
  decision?: 'retry' | 'discard';
  /** This run wrote IntakeIssue (it parked under the patch): a resume removes it with its first upsert. */
  issueWritten: boolean;
}

/**
 * The handler as a regular and as a local activity, under the input's retry policy and timeouts:
 * `handleEvent`, called by name through the typed proxy (the worker dispatches on the event's
 * source). Not destructured at module scope like the archive's: the options come from the event's
 * input (its retry policy, timeout, rate-limited task queue), fixed when it was accepted.
 */
function handlers(input: ProcessEventInput, budget: EventRun['budget']): EventRun['handler'] {
  const { retry, activityTimeoutMs, heartbeatTimeoutMs, activityTaskQueue } = input;
  const retryPolicy = (maximumAttempts: number) => ({
    maximumAttempts,
    initialInterval: retry.initialIntervalMs,
    maximumInterval: retry.maxIntervalMs,
    backoffCoefficient: 2,
    nonRetryableErrorTypes: [PERMANENT_ERROR_TYPE],
  });
  const regularOptions = {
    ...(activityTaskQueue ? { taskQueue: activityTaskQueue } : {}),
    startToCloseTimeout: activityTimeoutMs,
    // The handler heartbeats while it works (activities/run-handler.ts): an attempt whose worker
    // died, or that the server recorded as started but no worker received, is retried after the
    // heartbeat timeout instead of hanging for the whole start-to-close timeout. Activity options
    // are not part of the determinism check, so this needs no patch.
    ...(heartbeatTimeoutMs ? { heartbeatTimeout: heartbeatTimeoutMs } : {}),
    retry: retryPolicy(budget.regular),
  };
  const localOptions = {
    startToCloseTimeout: Math.min(activityTimeoutMs, LOCAL_TIMEOUT_MS),
    retry: {
      ...retryPolicy(budget.local),
      // Quick: the local attempts hold the workflow task, so they back off briefly.
      initialInterval: Math.min(retry.initialIntervalMs, 100),
      maximumInterval: Math.min(retry.maxIntervalMs, 1000),
    },
  };
  if (handlerByName()) {
    // HISTORY_SHAPES.handlerByName: a run started before the typed handler schedules the activity
    // type named in its input; proxyActivities answers any name with a function that schedules it.
    const regular = proxyActivities<Record<string, Handler>>(regularOptions);
    const local = proxyLocalActivities<Record<string, Handler>>(localOptions);
    return { regular: regular[input.activity]!, local: local[input.activity]! };
  }
  const { handleEvent: regular } = proxyActivities<HandlerActivities>(regularOptions);
  const { handleEvent: local } = proxyLocalActivities<HandlerActivities>(localOptions);
  return { regular, local };
}

/**
 * Sets the status; with `searchAttribute`, upserts IntakeStatus (and `extra`), removing IntakeIssue
 * in the first upsert of a resumed round. The Web UI's workflow page shows the Current Details
 * without per-browser set-up (a parked event is `Running` to Temporal); they are not a command
 * (the SDK answers them from workflow state through the __temporal_workflow_metadata query), so
 * running and recorded histories replay unchanged. The signature there is the normalised error
 * (no ids, values or emails), as `intake events issues` shows it.
 */
function setStatus(
  run: EventRun,
  status: EventStatus,
  searchAttribute = true,
  extra: SearchAttributeUpdatePair[] = [],
): void {
  run.state.status = status;
  if (searchAttribute) {
    const pairs: SearchAttributeUpdatePair[] = [{ key: IntakeStatus, value: status }, ...extra];
    if (run.issueWritten && status === 'processing') {
      pairs.push({ key: IntakeIssue, value: null });
      run.issueWritten = false;
    }
    upsertSearchAttributes(pairs);
  }
  setCurrentDetails(currentDetails(run.state));
}

/** One call of the handler: its result, or its failure with the attempts and error recorded. */
async function call(
  run: EventRun,
  handle: Handler,
  attemptBudget: number,
): Promise<HandlerResult | HandlerFailure> {
  const { activity: _a, retry: _r, activityTimeoutMs: _t, heartbeatTimeoutMs: _h, ...rest } = run.input;
  const { activityTaskQueue: _q, localFirst: _l, ...handlerInput } = rest;
  try {
    return await handle(handlerInput satisfies HandlerInput);
  } catch (err) {
    if (!isHandlerFailure(err)) throw err;
    run.state.attempts += failureAttempts(err, attemptBudget);
    run.state.lastError = failureMessage(err);
    return err;
  }
}

/**
 * One processing round: the quick local attempts (local-first shapes), then the regular activity
 * for the rest of the budget unless the handler failed permanently. The happy path writes no
 * search attribute until the event settles (the status query and GET /events/:id still say
 * `processing`); a resumed round says so at once.
 */
async function processingRound(run: EventRun): Promise<HandlerResult | HandlerFailure> {
  let outcome: HandlerResult | HandlerFailure | undefined;
  if (run.shape !== 'regularFirst') {
    setStatus(run, 'processing', run.state.attempts > 0);
    outcome = await call(run, run.handler.local, run.budget.local);
  }
  const fallBack = isHandlerFailure(outcome) && !isPermanent(outcome) && run.budget.regular > 0;
  if (outcome === undefined || fallBack) {
    setStatus(run, 'processing');
    outcome = await call(run, run.handler.regular, run.budget.regular);
  }
  return outcome;
}

/**
 * Parks the event (it does not fail) and waits for the operator: IntakeStatus=parked (with
 * IntakeIssue under its patch), the parked metric, the archive told (under its patch), then a
 * `retry` or `discard` signal. The patches are asked in this order at every parking
 * (history-shapes.ts).
 */
async function park(run: EventRun): Promise<'retry' | 'discard'> {
  const { state, input } = run;
  const issue = patched(ISSUE_ATTRIBUTE_PATCH) ? issueIdOf(state.source, state.lastError) : undefined;
  setStatus(run, 'parked', true, issue ? [{ key: IntakeIssue, value: issue }] : []);
  run.issueWritten = issue !== undefined;
  eventSink.parked(state.source);
  const settle = async (status: 'parked' | 'discarded') => {
    if (!patched(ARCHIVE_SETTLE_PATCH)) return;
    await settleArchivedEvent({
      id: input.id,
      status,
      lastError: state.lastError,
      revision: input.revision ?? 1,
    });
  };
  await settle('parked');
  await condition(() => run.decision !== undefined);
  const decision = run.decision ?? 'retry';
  run.decision = undefined;
  if (decision === 'discard') {
    setStatus(run, 'discarded');
    await settle('discarded');
  }
  return decision;
}

/**
 * One event, from acceptance to a final state. The handler first runs as a local activity (a few
 * quick attempts in the same workflow task, no extra server round trip), and the status search
 * attribute is written once, when the event settles. When the quick attempts fail, the handler
 * falls back to a regular activity under the configured retry policy (a pending activity, visible
 * in the Web UI and `temporal workflow describe`); when that budget is spent too, or the handler
 * fails permanently, the event parks (it does not fail) and waits for a `retry` or `discard`
 * signal. The history is the durable queue; the shapes it may have are in history-shapes.ts.
 */
export async function processEvent(input: ProcessEventInput): Promise<EventState> {
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
  setHandler(statusQuery, () => state);
  const shape = chooseShape(input);
  const budget =
    shape === 'regularFirst'
      ? { local: 0, regular: input.retry.maxAttempts }
      : splitBudget(input.retry.maxAttempts);
  const run: EventRun = {
    input,
    state,
    shape,
    budget,
    handler: handlers(input, budget),
    issueWritten: false,
  };
  setHandler(retrySignal, () => {
    if (state.status === 'parked') run.decision = 'retry';
  });
  setHandler(discardSignal, (req?: DiscardRequest) => {
    if (state.status !== 'parked') return;
    run.decision = 'discard';
    if (req?.reason) state.discardReason = String(req.reason).slice(0, 500);
  });
  for (;;) {
    const outcome = await processingRound(run);
    if (!isHandlerFailure(outcome)) {
      // Attempts of a failed quick round are already counted; add the ones of this call.
      state.attempts += outcome.attempt;
      state.lastError = null;
      state.processedAt = new Date().toISOString();
      setStatus(run, 'processed');
      return state;
    }
    if ((await park(run)) === 'discard') return state;
  }
}
