import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { BadRequestError, NotFoundError, NotParkedError, UnknownOperatorTargetError } from '../errors';
import { EVENT_STATUSES } from './requests';
import type { ArchivedEvent, EventArchive } from '../store/event-archive';
import type { Quarantine } from '../store/quarantine';
import type { StartSpool } from '../store/start-spool';
import type { Queryable } from '../store/store';
import { discardSignal, processEvent, retrySignal, statusQuery } from '../../workflows/process-event';
import { IntakeEntity, IntakeEventType, IntakeSource, IntakeStatus } from '../../workflows/search-attributes';
import type { EventState, EventStatus } from '../../workflows/types';

/** GET /events/:id and `intake events show`. */
export interface EventView {
  id: string;
  source: string | null;
  eventType: string | null;
  /** The business entity the source names (Source.identify), e.g. a message or customer id. */
  entity: string | null;
  /** `dead` only for a spooled start Temporal refused for good (a dead letter of the spool). */
  status: EventStatus | 'dead';
  attempts: number;
  lastError: string | null;
  receivedAt: string | null;
  processedAt: string | null;
  /** Only on discarded events: the reason the operator gave. */
  discardReason?: string;
  /** Only on rejected (quarantined) events: why the schema refused the body. */
  issues?: { path: string; message: string }[];
  /** 1 + the replays of the event (`intake events replay`); where the archive is at hand (the API). */
  revision?: number;
  /** When the latest replay processed it; null if never replayed. With `revision`. */
  replayedAt?: string | null;
}

/** What the API process knows beyond Temporal: spooled starts, quarantined requests, the archive. */
export interface LocalEvents {
  spool?: StartSpool;
  quarantine?: Quarantine;
  /** The event archive and the store it lives in: events whose workflow Temporal deleted. */
  archive?: { archive: EventArchive; store: Queryable };
}

/** The workflow id of an event's latest run: a replay runs under `<id>:r<revision>`. */
export function runIdOf(id: string, revision: number): string {
  return revision > 1 ? `${id}:r${revision}` : id;
}

/** An archived event whose workflow is gone, as GET /events/:id shows it. */
function archivedView(a: ArchivedEvent): EventView {
  return {
    id: a.id,
    source: a.source,
    eventType: a.eventType,
    entity: a.entity,
    // `received`: accepted, but no run settled it (its start may never have been persisted).
    status: a.status === 'received' ? 'queued' : a.status,
    attempts: 0,
    lastError: a.lastError,
    receivedAt: a.receivedAt,
    processedAt: a.processedAt,
  };
}

/** One row of `intake events list`. */
export interface EventSummary {
  id: string;
  source: string | null;
  eventType: string | null;
  status: string | null;
  startedAt: string;
  closedAt: string | null;
  /** Only on rejected (quarantined) events. */
  issues?: { path: string; message: string }[];
  /** Only on dead letters of the spool: why Temporal refused the start. */
  lastError?: string;
}

const WORKFLOW_TASK_STARTED =
  temporal.api.enums.v1.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED;

/**
 * A running event's status from what the server knows, for when the status query gets no answer.
 * IntakeStatus is written when the event settles (and when it falls back to the regular activity),
 * so it still says `queued` while a worker runs the quick local attempts inside a workflow task:
 * a started workflow task or a pending activity means the event is being processed.
 */
function serverSideStatus(desc: WorkflowExecutionDescription): EventStatus {
  const written = (desc.typedSearchAttributes.get(IntakeStatus) ?? 'queued') as EventStatus;
  if (written !== 'queued') return written;
  const busy =
    desc.raw.pendingWorkflowTask?.state === WORKFLOW_TASK_STARTED || !!desc.raw.pendingActivities?.length;
  return busy ? 'processing' : 'queued';
}

const STATUSES: readonly string[] = EVENT_STATUSES;
// What ingest accepts: `<source>:` + an event id of 1-200 printable ASCII characters (a source may
// prefix its own scope, e.g. `<partner>:`). Narrower would make accepted events impossible to inspect, retry or discard.
const NAME = /^[\x21-\x7e]{1,300}$/;

/** Builds a visibility query over Intake's search attributes; values are validated, never spliced raw. */
export function eventsQuery(filter: { status?: string; source?: string; running?: boolean }): string {
  const parts: string[] = [`WorkflowType = '${processEvent.name}'`];
  if (filter.status !== undefined) {
    if (!STATUSES.includes(filter.status)) {
      throw new BadRequestError(`status must be one of ${STATUSES.join(', ')}`);
    }
    // Quarantined requests and dead letters never reach Temporal; the store lists them.
    if (filter.status === 'rejected' || filter.status === 'dead')
      throw new BadRequestError(`${filter.status} events are listed by the API`);
    parts.push(`${IntakeStatus.name} = '${filter.status}'`);
  }
  if (filter.source !== undefined) {
    if (!/^[a-z0-9_-]{1,64}$/.test(filter.source)) throw new BadRequestError('source must be [a-z0-9_-]');
    parts.push(`${IntakeSource.name} = '${filter.source}'`);
  }
  if (filter.running) parts.push(`ExecutionStatus = 'Running'`);
  return parts.join(' AND ');
}

/** Event operations on top of Temporal, shared by the admin API and the CLI. */
export class EventService {
  constructor(
    private readonly client: Client,
    /** How long a status query may take before the answer falls back to describe(). */
    private readonly queryTimeoutMs = 3000,
    /** The spool and the quarantine, in the API process (the CLI asks the API for them). */
    private readonly local: LocalEvents = {},
  ) {}

  /**
   * The event's state; NotFoundError if no workflow has that id, nor the spool or the quarantine.
   * A spooled event is `queued` (its start is waiting in the store for Temporal); a quarantined
   * request (`rejected:<uuid>`) is `rejected`.
   */
  async get(id: string): Promise<EventView> {
    if (!NAME.test(id)) throw new UnknownOperatorTargetError('unknown event');
    const local = await this.localView(id);
    if (local) return local;
    const a = this.local.archive;
    const archived = a ? await a.archive.find(a.store, id) : undefined;
    if (!archived) return this.temporalView(id, id);
    const extra = { revision: archived.revision, replayedAt: archived.replayedAt };
    // The latest run tells the status: the replay's when there is one, else the first run's; once
    // Temporal deleted it, the archive answers.
    for (const runId of new Set([runIdOf(id, archived.revision), id])) {
      try {
        return { ...(await this.temporalView(id, runId)), ...extra };
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    return { ...archivedView(archived), ...extra };
  }

  /** The event's state from the workflow `runId` (its first run, or a replay); NotFoundError if none. */
  private async temporalView(id: string, runId: string): Promise<EventView> {
    const handle = this.client.workflow.getHandle<typeof processEvent>(runId);
    let desc: WorkflowExecutionDescription;
    try {
      desc = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new UnknownOperatorTargetError('unknown event');
      throw err;
    }
    const base = {
      id,
      source: desc.typedSearchAttributes.get(IntakeSource) ?? null,
      eventType: desc.typedSearchAttributes.get(IntakeEventType) ?? null,
      entity: desc.typedSearchAttributes.get(IntakeEntity) ?? null,
      receivedAt: desc.startTime.toISOString(),
    };
    if (desc.status.name === 'COMPLETED') {
      const result = await handle.result();
      return { ...base, ...pick(result) };
    }
    if (desc.status.name !== 'RUNNING') {
      return {
        ...base,
        status: 'discarded',
        attempts: 0,
        lastError: `workflow ${desc.status.name.toLowerCase()}`,
        processedAt: null,
      };
    }
    const pending = desc.raw.pendingActivities?.[0];
    try {
      const state = await this.client.connection.withDeadline(Date.now() + this.queryTimeoutMs, () =>
        handle.query(statusQuery),
      );
      const view = { ...base, ...pick(state) };
      // While a round is under way the workflow only learns of failed attempts when it ends.
      if (state.status === 'processing' && pending && (pending.attempt ?? 1) > 1) {
        view.attempts += (pending.attempt ?? 1) - 1;
        view.lastError = pending.lastFailure?.message ?? view.lastError;
      }
      return view;
    } catch {
      // No answer in time: no worker is up, or one is inside the event's workflow task (the quick
      // local attempts run there, and a query waits for that task). Answer from the server's view.
      const status = serverSideStatus(desc);
      return {
        ...base,
        status,
        attempts: Math.max(0, (pending?.attempt ?? 1) - 1),
        lastError: (await this.failingTask(desc)) ?? pending?.lastFailure?.message ?? null,
        processedAt: null,
      };
    }
  }

  /**
   * Why the workflow's task keeps failing, when it does: no worker can run it (a worker that cannot
   * decrypt its input because it lacks the key it was encrypted with, a nondeterminism error). The
   * workflow then stays running with no status of its own; the server retries the task and records
   * each failure in the history, whose latest message is this answer (key ids and error text only,
   * never payload values). Undefined while the task has not failed.
   */
  private async failingTask(desc: WorkflowExecutionDescription): Promise<string | undefined> {
    if ((desc.raw.pendingWorkflowTask?.attempt ?? 1) <= 1) return undefined;
    try {
      const { history } = await this.client.workflowService.getWorkflowExecutionHistoryReverse({
        namespace: this.client.options.namespace,
        execution: { workflowId: desc.workflowId, runId: desc.runId },
        maximumPageSize: 20,
      });
      for (const e of history?.events ?? []) {
        const message = e.workflowTaskFailedEventAttributes?.failure?.message;
        if (message) return `workflow task failing: ${message}`;
      }
    } catch {
      // The history is an extra; the status answers without it.
    }
    return 'workflow task failing';
  }

  /** A quarantined (`rejected`) or spooled (`queued`) event, known to this API's store only. */
  private async localView(id: string): Promise<EventView | undefined> {
    if (id.startsWith('rejected:')) {
      const r = await this.local.quarantine?.get(id);
      if (!r) throw new UnknownOperatorTargetError('unknown event');
      return {
        id,
        source: r.source,
        eventType: null,
        entity: null,
        status: 'rejected',
        attempts: 0,
        lastError: 'validation_failed',
        receivedAt: r.receivedAt,
        processedAt: null,
        issues: r.issues,
      };
    }
    const spooled = await this.local.spool?.find(id);
    if (spooled) {
      return {
        id,
        source: spooled.start.searchAttributes.source,
        eventType: spooled.start.searchAttributes.eventType,
        entity: spooled.start.searchAttributes.entity,
        // A dead letter: Temporal refused its start for good; the reason is value-free.
        status: spooled.dead ? 'dead' : 'queued',
        attempts: 0,
        lastError: spooled.dead?.error ?? null,
        receivedAt: spooled.start.input.receivedAt,
        processedAt: null,
      };
    }
    return undefined;
  }

  /** Resumes a parked event with a fresh retry budget; NotParkedError otherwise. */
  async retry(id: string): Promise<void> {
    await this.assertParked(id);
    await this.client.workflow.getHandle<typeof processEvent>(id).signal(retrySignal);
  }

  /** Discards a parked event; NotParkedError otherwise. */
  async discard(id: string, reason?: string): Promise<void> {
    await this.assertParked(id);
    await this.client.workflow.getHandle<typeof processEvent>(id).signal(discardSignal, { reason });
  }

  /** Lists events in visibility order: running ones first, then the most recently closed. */
  async list(filter: { status?: string; source?: string; limit?: number }): Promise<EventSummary[]> {
    const out: EventSummary[] = [];
    const limit = filter.limit ?? 100;
    if (filter.status === 'rejected' && this.local.quarantine) {
      if (filter.source !== undefined && !/^[a-z0-9_-]{1,64}$/.test(filter.source))
        throw new BadRequestError('source must be [a-z0-9_-]');
      const rows = await this.local.quarantine.list({ source: filter.source, limit });
      return rows.map((r) => ({
        id: r.id,
        source: r.source,
        eventType: null,
        status: 'rejected',
        startedAt: r.receivedAt,
        closedAt: null,
        issues: r.issues,
      }));
    }
    if (filter.status === 'dead' && this.local.spool) {
      if (filter.source !== undefined && !/^[a-z0-9_-]{1,64}$/.test(filter.source))
        throw new BadRequestError('source must be [a-z0-9_-]');
      const rows = await this.local.spool.listDead({ source: filter.source, limit });
      return rows.map((r) => ({
        id: r.workflowId,
        source: r.source,
        eventType: null,
        status: 'dead',
        startedAt: r.spooledAt.toISOString(),
        closedAt: r.deadAt.toISOString(),
        lastError: r.lastError,
      }));
    }
    for await (const wf of this.client.workflow.list({
      query: eventsQuery(filter),
      pageSize: Math.min(limit, 1000),
    })) {
      const sa = wf.typedSearchAttributes;
      out.push({
        id: wf.workflowId,
        source: sa.get(IntakeSource) ?? null,
        eventType: sa.get(IntakeEventType) ?? null,
        status: sa.get(IntakeStatus) ?? null,
        startedAt: wf.startTime.toISOString(),
        closedAt: wf.closeTime?.toISOString() ?? null,
      });
      if (out.length >= limit) break;
    }
    return out;
  }

  private async assertParked(id: string): Promise<void> {
    const view = await this.get(id);
    if (view.status !== 'parked') throw new NotParkedError(view.status);
  }
}

function pick(
  s: EventState,
): Pick<EventView, 'status' | 'attempts' | 'lastError' | 'processedAt' | 'receivedAt' | 'discardReason'> {
  return {
    status: s.status,
    attempts: s.attempts,
    lastError: s.lastError,
    processedAt: s.processedAt,
    receivedAt: s.receivedAt,
    ...(s.discardReason !== undefined ? { discardReason: s.discardReason } : {}),
  };
}
