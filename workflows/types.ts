/** Lifecycle of one event. */
export type EventStatus = 'queued' | 'processing' | 'processed' | 'parked' | 'discarded';

/** Retry policy of the handler activity, from config (INTAKE_RETRY_*). */
export interface HandlerRetryOptions {
  maxAttempts: number;
  initialIntervalMs: number;
  maxIntervalMs: number;
}

/** What the handler activity receives. */
export interface HandlerInput {
  /** Workflow id, `<source>:<eventId>`. */
  id: string;
  source: string;
  eventId: string;
  eventType: string;
  entity: string;
  /** The validated webhook body. */
  payload: unknown;
  /** Route parameters (e.g. `partner`). */
  params: Record<string, string>;
  receivedAt: string;
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
  /** Activity type that processes this source (`handleMailgun`). */
  activity: string;
  retry: HandlerRetryOptions;
  activityTimeoutMs: number;
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
