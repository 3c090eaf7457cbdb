/**
 * Lifecycle of one event. `rejected` never comes from a workflow: it is a signed request kept in
 * quarantine because its body failed the schema (no workflow exists for it).
 */
export type EventStatus = 'queued' | 'processing' | 'processed' | 'parked' | 'discarded' | 'rejected';

/** Retry policy of the handler activity, from config (INTAKE_RETRY_*). */
export interface HandlerRetryOptions {
  maxAttempts: number;
  initialIntervalMs: number;
  maxIntervalMs: number;
}

/** What the handler activity receives. */
export interface HandlerInput {
  /**
   * The event's id, `<source>:<eventId>`: the workflow id of its first run (a replay runs under
   * `<id>:r<revision>` and keeps this id, the key of the ledger and the archive).
   */
  id: string;
  source: string;
  eventId: string;
  eventType: string;
  entity: string;
  /** The validated webhook body; null when it was offloaded (see `payloadRef`). */
  payload: unknown;
  /**
   * Set when the body was too large for the history: it sits in the store and the activity reads
   * it back before processing. Absent in histories recorded before payload offloading existed.
   */
  payloadRef?: PayloadRef;
  /** Route parameters (e.g. `partner`). */
  params: Record<string, string>;
  receivedAt: string;
  /**
   * 1 + the replays of this event. Absent (= 1) on the first processing; a replay (`intake events
   * replay`) runs the event again under the workflow id `<id>:r<revision>` with the next revision,
   * and the source's processing replaces the effect of the earlier revisions (Source.process).
   */
  revision?: number;
}

/** A payload kept in the store instead of the workflow history (claim check). */
export interface PayloadRef {
  /** Key of the stored row: the workflow id. */
  key: string;
  /** Size of the stored (possibly encrypted) bytes. */
  bytes: number;
  /** SHA-256 (hex) of the stored bytes, checked when they are read back. */
  sha256: string;
}

/** What the handler activity returns. */
export interface HandlerResult {
  /** The attempt that succeeded (1-based). */
  attempt: number;
  /** False when the effect had already been applied (a redelivery after a crash). */
  applied: boolean;
}

/** Input of the processEvent workflow. */
export interface ProcessEventInput extends HandlerInput {
  /**
   * Activity type that processed this source before the typed handler (`handleMailgun`): read only
   * by runs of HISTORY_SHAPES.handlerByName (workflows/history-shapes.ts); new runs call
   * `handleEvent`. Still set by starters, for a worker of the previous release during a deploy.
   */
  activity: string;
  retry: HandlerRetryOptions;
  activityTimeoutMs: number;
  /**
   * Heartbeat timeout of the regular (fallback) activity; the handler heartbeats while it works, so
   * an attempt that no live worker runs is retried after this instead of after activityTimeoutMs.
   * Absent in executions started before it (their regular attempts have no heartbeat timeout).
   */
  heartbeatTimeoutMs?: number;
  /**
   * Task queue of the handler activity when the source is rate limited (INTAKE_RATE_LIMITS);
   * absent = the workflow's own queue, as in histories recorded before rate limits existed.
   */
  activityTaskQueue?: string;
  /**
   * Set by starters since the `local-activity-first` shape shipped: run the handler as a local
   * activity first. Taken from the input (it is in the history), so the workflow needs no
   * `patched()` marker and no TemporalChangeVersion upsert for it: two history events fewer per
   * event. Absent in executions started before it; those still ask `patched()`
   * (docs/workflow-changes.md).
   */
  localFirst?: true;
}

/** The event's state: the status query's answer and the workflow's result. */
export interface EventState {
  id: string;
  source: string;
  eventType: string;
  status: EventStatus;
  /** Handler attempts so far, across every retry round. */
  attempts: number;
  lastError: string | null;
  receivedAt: string;
  processedAt: string | null;
  /** Reason given by the operator who discarded the event. */
  discardReason?: string;
}

/** Argument of the discard signal. */
export interface DiscardRequest {
  reason?: string;
}
