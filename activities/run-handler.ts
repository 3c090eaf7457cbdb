import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Tracer } from '@opentelemetry/api';
import { PermanentProcessingError, RetryLaterError, toProcessingError } from '../src/errors';
import { firingFailpoint, type Failpoint } from '../src/worker/failpoints';
import { markProcessed } from '../src/store/ledger';
import type { Queryable } from '../src/store/store';
import { PERMANENT_ERROR_TYPE } from '../workflows/failure-types';
import type { HandlerInput, HandlerResult } from '../workflows/types';

/**
 * A source's processing of one event; `input.revision` tells a replay (see Source.process for the
 * contract: ledger first, and a replay replaces the event's earlier effect).
 */
export type ProcessFn = (input: HandlerInput) => Promise<{ applied: boolean }>;

/** Worker services a source's processing may use besides the store (delivery: tracing, metrics). */
export interface ProcessServices {
  /** The worker's tracer, when tracing is on. */
  tracer?: Tracer;
  /** Counts one delivery attempt by source and outcome (`delivered`, `retry`, `permanent`). */
  onDelivery?(source: string, outcome: 'delivered' | 'retry' | 'permanent'): void;
}

/** Hooks for metrics and logs; ids and types only, never payloads. */
export interface HandlerObserver {
  onAttempt?(input: HandlerInput, outcome: 'ok' | 'retryable' | 'permanent', attempt: number): void;
}

/**
 * While a regular (not local) attempt with a heartbeat timeout runs, heartbeats every third of
 * that timeout: the server then knows a live worker holds the attempt. An attempt that no live
 * worker runs (its worker was killed, or the task was recorded as started but never reached a
 * worker) stops heartbeating and is retried after the heartbeat timeout, not the start-to-close
 * timeout. A handler that finishes within the first interval (the usual case) sends none.
 * Returns the function that stops the heartbeats.
 */
function heartbeatWhileRunning(): () => void {
  const ctx = Context.current();
  const { isLocal, heartbeatTimeoutMs } = ctx.info;
  if (isLocal || !heartbeatTimeoutMs) return () => undefined;
  const timer = setInterval(() => ctx.heartbeat(), Math.max(100, Math.floor(heartbeatTimeoutMs / 3)));
  return () => clearInterval(timer);
}

/**
 * Wraps a source's processing into an activity: heartbeats while a regular attempt works, applies
 * failpoints, reduces store errors to their code and classifies data errors as permanent
 * (toProcessingError), maps PermanentProcessingError to a non-retryable failure (the one place that
 * retry decision is made), and reports the attempt number so the workflow can keep an honest count.
 */
export function runHandler(
  process: ProcessFn,
  failpoints: Failpoint[],
  observer: HandlerObserver = {},
  /** The store, for a `silent` failpoint's ledger row. */
  ledger?: Queryable,
) {
  // Events a `once` failpoint already failed in this process (rehearsal only; off by default).
  const failedOnce = new Set<string>();
  return async (input: HandlerInput): Promise<HandlerResult> => {
    const attempt = Context.current().info.attempt;
    const stopHeartbeats = heartbeatWhileRunning();
    try {
      const fp = firingFailpoint(failpoints, input.source, input.eventType);
      if (fp?.point === 'permanent') throw new PermanentProcessingError(`failpoint ${fp.source}.permanent`);
      if (fp?.point === 'once') {
        if (!failedOnce.has(input.id)) {
          failedOnce.add(input.id);
          throw new Error(`failpoint ${fp.source}.once`);
        }
      } else if (fp?.point === 'silent' && ledger) {
        // A bug that does not throw: recorded as processed, effect skipped.
        await markProcessed(ledger, input.id, input.source, input.eventType, input.revision);
        observer.onAttempt?.(input, 'ok', attempt);
        return { attempt, applied: false };
      } else if (fp) throw new Error(`failpoint ${fp.source}.handler`);
      const { applied } = await process(input);
      observer.onAttempt?.(input, 'ok', attempt);
      return { attempt, applied };
    } catch (err) {
      // Store errors lose their message (it can quote payload values) and data errors turn permanent.
      const e = toProcessingError(err);
      const permanent = e instanceof PermanentProcessingError;
      observer.onAttempt?.(input, permanent ? 'permanent' : 'retryable', attempt);
      throw ApplicationFailure.create({
        message: e.message,
        type: permanent ? PERMANENT_ERROR_TYPE : e.name || 'Error',
        nonRetryable: permanent,
        details: [{ attempt }],
        // A Retry-After the handler was given replaces the policy's backoff for the next attempt.
        ...(e instanceof RetryLaterError ? { nextRetryDelay: e.retryAfterMs } : {}),
        cause: e,
      });
    } finally {
      stopHeartbeats();
    }
  };
}
