import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import { IntakeStatus } from './search-attributes';
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

/** Error types the handler raises that must not be retried (see activities/run-handler.ts). */
export const PERMANENT_ERROR_TYPE = 'PermanentProcessingError';

type Handler = (input: HandlerInput) => Promise<HandlerResult>;

function failureAttempts(err: ActivityFailure, budget: number): number {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    const detail = cause.details?.[0] as { attempt?: unknown } | undefined;
    if (typeof detail?.attempt === 'number') return detail.attempt;
  }
  return err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED ? budget : 1;
}

function failureMessage(err: ActivityFailure): string {
  const cause = err.cause;
  const type = cause instanceof ApplicationFailure && cause.type ? cause.type : (cause?.name ?? 'Error');
  return `${type}: ${cause?.message ?? err.message}`.slice(0, 2000);
}

/**
 * One event, from acceptance to a final state. The handler activity runs under the configured retry
 * policy; when its budget is spent or it fails permanently, the event parks (it does not fail) and
 * waits for a `retry` or `discard` signal. The history is the durable queue.
 */
export async function processEvent(input: ProcessEventInput): Promise<EventState> {
  const { activity, retry, activityTimeoutMs, activityTaskQueue, ...handlerInput } = input;
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

  const setStatus = (status: EventStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: IntakeStatus, value: status }]);
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

  const handlers = proxyActivities<Record<string, Handler>>({
    ...(activityTaskQueue ? { taskQueue: activityTaskQueue } : {}),
    startToCloseTimeout: activityTimeoutMs,
    retry: {
      maximumAttempts: retry.maxAttempts,
      initialInterval: retry.initialIntervalMs,
      maximumInterval: retry.maxIntervalMs,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: [PERMANENT_ERROR_TYPE],
    },
  });
  const handle = handlers[activity];
  if (!handle) throw ApplicationFailure.nonRetryable(`no activity ${activity}`);

  for (;;) {
    setStatus('processing');
    try {
      const result = await handle(handlerInput);
      state.attempts += result.attempt;
      state.lastError = null;
      state.processedAt = new Date().toISOString();
      setStatus('processed');
      return state;
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      state.attempts += failureAttempts(err, retry.maxAttempts);
      state.lastError = failureMessage(err);
      setStatus('parked');
      await condition(() => decision !== undefined);
      if (decision === 'discard') {
        setStatus('discarded');
        return state;
      }
      decision = undefined;
    }
  }
}
