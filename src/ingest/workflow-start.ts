import {
  InternalConnectionLikeSymbol,
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type InternalConnectionLike,
} from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { activityTaskQueueFor, type Config } from '../config';
import type { SpooledStart } from '../store/start-spool';
import { processEvent } from '../../workflows/process-event';
import type { HandlerInput, ProcessEventInput } from '../../workflows/types';
import { IntakeEntity, IntakeEventType, IntakeSource, IntakeStatus } from '../../workflows/search-attributes';

/**
 * The processEvent input of one event: the event plus how to process it (the source's activity, the
 * configured retry policy and timeouts, the rate-limited task queue or the local-first shape). The
 * same for a fresh event (ingest, the spool) and a replay (activities/replay.ts).
 */
export function processEventInput(
  config: Config,
  source: { name: string; activity: string },
  event: HandlerInput,
): ProcessEventInput {
  const activityTaskQueue = activityTaskQueueFor(config, source.name);
  return {
    ...event,
    activity: source.activity,
    retry: config.retry,
    activityTimeoutMs: config.activityTimeoutMs,
    heartbeatTimeoutMs: config.activityHeartbeatTimeoutMs,
    ...(activityTaskQueue ? { activityTaskQueue } : { localFirst: true }),
  };
}

/** What became of one start: `started-eagerly` when its first workflow task came back in the answer. */
export type StartOutcome = 'started' | 'started-eagerly' | 'duplicate';

/**
 * Starts the processEvent workflow of one event and resolves once Temporal has persisted it
 * (`started`), or found that it already had (`duplicate`: conflict policy FAIL refuses a second
 * start while one runs, reuse policy REJECT_DUPLICATE one after it closed). Used by ingest and by
 * the spool relay, so both start exactly the same workflow. Throws whatever else the call throws.
 */
export async function startEvent(
  client: Client,
  config: Config,
  start: SpooledStart,
  deadline: number,
): Promise<StartOutcome> {
  try {
    const handle = await client.connection.withDeadline(deadline, () =>
      client.workflow.start(processEvent, {
        taskQueue: config.temporal.taskQueue,
        workflowId: start.workflowId,
        args: [start.input],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        requestEagerStart: startsEagerly(client),
        ...eventMetadata(start),
        typedSearchAttributes: [
          { key: IntakeSource, value: start.searchAttributes.source },
          { key: IntakeEventType, value: truncateUtf8(start.searchAttributes.eventType, 200) },
          { key: IntakeEntity, value: truncateUtf8(start.searchAttributes.entity, 1000) },
          { key: IntakeStatus, value: 'queued' },
        ],
      }),
    );
    return handle.eagerlyStarted ? 'started-eagerly' : 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'duplicate';
    throw err;
  }
}

/**
 * `s` cut to at most `maxBytes` bytes of UTF-8, never inside a character. Temporal refuses a start
 * whose search attribute value passes 2,048 bytes (not characters): a cut by characters let an
 * entity of 683 three-byte characters through to a start that could never succeed.
 */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * The Web UI's Summary and Details of an event's workflow (Temporal user metadata): the source and
 * event type, and how to resume it. No entity, message id or payload: they may be personal data,
 * and user metadata is stored in clear unless the codec is on.
 */
export function eventMetadata(start: Pick<SpooledStart, 'input'>): {
  staticSummary: string;
  staticDetails: string;
} {
  const { source, eventType } = start.input;
  return {
    staticSummary: `${source} ${eventType.slice(0, 100)}`,
    staticDetails: [
      `Webhook event from **${source}**, type **${eventType.slice(0, 100)}**, processed by Intake.`,
      'Its status is the `IntakeStatus` search attribute and the Current Details. A parked event',
      'waits here (Running) for a `retry` or `discard` signal: More Actions → Send a Signal.',
      'Never Reset or Request Cancellation: that drops the event.',
    ].join('\n'),
  };
}

/**
 * Whether starts go eagerly to a worker in this process: only a client on a worker's
 * NativeConnection can (`intake dev` with INTAKE_EAGER_START), which the SDK reports this way.
 */
function startsEagerly(client: Client): boolean {
  return (
    (client.connection as InternalConnectionLike)[InternalConnectionLikeSymbol]?.supportsEagerStart === true
  );
}

/** gRPC codes that no retry can fix: the request itself is wrong. */
const PERMANENT = new Set<number>([3 /* INVALID_ARGUMENT */, 12 /* UNIMPLEMENTED */]);

/**
 * Whether a failed start may succeed later (Temporal down, overloaded, unreachable, deadline
 * passed, not authorised yet): such an event is spooled. Only a request Temporal refuses as
 * malformed is not.
 */
export function isTransientStartError(err: unknown): boolean {
  return startRefusal(err) === undefined;
}

/**
 * Why Temporal can never take this start, or undefined when a retry may succeed: `invalid` for a
 * request it refuses as malformed, `too-large` for one over a size limit. RESOURCE_EXHAUSTED is
 * transient (rate limits) except when gRPC refuses the message itself as larger than its maximum:
 * that request is refused again however often it is sent.
 */
export function startRefusal(err: unknown): 'invalid' | 'too-large' | undefined {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const code = e?.cause?.code ?? e?.code;
  const message = `${String(e?.cause?.message ?? '')} ${String(e?.message ?? '')}`;
  if (typeof code !== 'number') return undefined;
  if (/larger than max|size exceeds limit|exceeds size limit/i.test(message)) {
    if (code === 8 /* RESOURCE_EXHAUSTED */ || PERMANENT.has(code)) return 'too-large';
  }
  return PERMANENT.has(code) ? 'invalid' : undefined;
}
