import { randomBytes } from 'node:crypto';
import {
  ApplicationFailure,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { RedriveNotRunningError, UnknownOperatorTargetError } from '../errors';
import {
  REDRIVE_STOPPED_ERROR_TYPE,
  redriveParked,
  redriveProgressQuery,
} from '../../workflows/redrive-parked';
import type { RedriveInput, RedriveProgress } from '../../workflows/redrive-types';
import { ParkedEvents, type Issue } from './parked-events';
import type { RedriveRequest } from './requests';

/** A started redrive, or the count of a dry run. */
export type RedriveStart = { matched: number; redrive: string } | { matched: number; issues: Issue[] };

/** GET /admin/redrives/:id and `intake events redrives show ID`. */
export interface RedriveView extends Partial<RedriveProgress> {
  id: string;
  /**
   * Temporal execution status: running, completed, cancelled, terminated, failed… A redrive whose
   * canary stopped it is `failed` (phase `stopped`; redrives started before issue 19 completed).
   */
  status: string;
  /** Why a failed redrive failed (e.g. "redrive stopped by its canary: 3 of 3 …"). */
  failure?: string;
  startedAt: string;
  closedAt: string | null;
}

const ID = /^redrive:[A-Za-z0-9_.:-]{1,200}$/;

/**
 * The canary of a request parsed with its schema (src/operations/requests.ts, which checks it):
 * `5` or `10%` as the workflows take it.
 */
export function canaryOf(raw: string | undefined): RedriveInput['canary'] {
  if (raw === undefined) return undefined;
  return raw.endsWith('%') ? { percent: Number(raw.slice(0, -1)) } : { count: Number(raw) };
}

/** Redrives of parked events as redriveParked workflows on the task queue. */
export class RedriveService {
  private readonly parked: ParkedEvents;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {
    this.parked = new ParkedEvents(client);
  }

  /**
   * Selects the parked events; a dry run returns the count by issue, else a redrive starts. `req`
   * is parsed with redriveRequestSchema (src/operations/requests.ts).
   */
  async start(req: RedriveRequest): Promise<RedriveStart> {
    const canary = canaryOf(req.canary);
    if (req.dryRun) {
      // The issues' counts, from one visibility query (and a status query per issue).
      const issues = await this.parked.issues(req);
      return { matched: issues.reduce((n, i) => n + i.count, 0), issues };
    }
    const targets = await this.parked.targets(req, { attempts: canary !== undefined });
    const id = `redrive:${req.source ?? 'all'}${req.issue ? `:${req.issue}` : ''}:${randomBytes(4).toString('hex')}`;
    const input: RedriveInput = {
      filter: { ...(req.source ? { source: req.source } : {}), ...(req.issue ? { issue: req.issue } : {}) },
      targets,
      ...(canary ? { canary } : {}),
      ...(req.rate ? { ratePerSecond: req.rate } : {}),
    };
    await this.client.workflow.start(redriveParked, {
      workflowId: id,
      taskQueue: this.taskQueue,
      args: [input],
      // The Web UI's Summary: what this redrive resumes (no event ids).
      staticSummary: `redrive of ${targets.length} parked ${req.source ?? 'any-source'} event(s)${req.issue ? `, issue ${req.issue}` : ''}${req.canary ? `, canary ${req.canary}` : ''}`,
    });
    return { matched: targets.length, redrive: id };
  }

  /** A redrive's status and progress; NotFoundError for an unknown id. */
  async get(id: string): Promise<RedriveView> {
    if (!ID.test(id)) throw new UnknownOperatorTargetError('unknown redrive');
    const handle = this.client.workflow.getHandle<typeof redriveParked>(id);
    let desc: WorkflowExecutionDescription;
    try {
      desc = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new UnknownOperatorTargetError('unknown redrive');
      throw err;
    }
    if (desc.type !== redriveParked.name) throw new UnknownOperatorTargetError('unknown redrive');
    const view: RedriveView = {
      id,
      status: desc.status.name.toLowerCase(),
      startedAt: desc.startTime.toISOString(),
      closedAt: desc.closeTime?.toISOString() ?? null,
    };
    if (view.status === 'failed') {
      // A stopped redrive carries its progress in the failure: no worker needed to show it.
      const stopped = await this.stoppedProgress(id);
      if (stopped) return { ...view, ...stopped };
    }
    try {
      const progress = await this.client.connection.withDeadline(Date.now() + 5000, () =>
        handle.query(redriveProgressQuery),
      );
      return { ...view, ...progress };
    } catch {
      return view; // no worker to answer: the execution status alone
    }
  }

  /** The progress and reason of a redrive its canary stopped (a failed workflow), if it is one. */
  private async stoppedProgress(id: string): Promise<(RedriveProgress & { failure: string }) | undefined> {
    try {
      await this.client.workflow.getHandle<typeof redriveParked>(id).result();
    } catch (err) {
      const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === REDRIVE_STOPPED_ERROR_TYPE) {
        const progress = cause.details?.[0] as RedriveProgress | undefined;
        if (progress?.phase) return { ...progress, failure: cause.message };
      }
    }
    return undefined;
  }

  /** The most recent redrives (running ones first). */
  async list(limit = 20): Promise<RedriveView[]> {
    const out: RedriveView[] = [];
    for await (const wf of this.client.workflow.list({ query: `WorkflowType = '${redriveParked.name}'` })) {
      out.push({
        id: wf.workflowId,
        status: wf.status.name.toLowerCase(),
        startedAt: wf.startTime.toISOString(),
        closedAt: wf.closeTime?.toISOString() ?? null,
      });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Cancels a running redrive: signals not yet sent are not sent; those events stay parked. */
  async cancel(id: string): Promise<void> {
    const view = await this.get(id);
    if (view.status !== 'running') throw new RedriveNotRunningError(view.status);
    await this.client.workflow.getHandle<typeof redriveParked>(id).cancel();
  }
}
