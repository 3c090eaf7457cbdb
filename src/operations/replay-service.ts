import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { RedriveNotRunningError, UnknownOperatorTargetError } from '../errors';
import type { EventArchive } from '../store/event-archive';
import type { Store } from '../store/store';
import { replayEvents, replayProgressQuery } from '../../workflows/replay-events';
import type { ReplayFilter, ReplayInput, ReplayProgress, ReplayStatus } from '../../workflows/replay-types';
import { canaryOf } from './redrive-service';
import type { ReplayRequest } from './requests';

/** Workflow input fields a test may set (src/operations/replay-service.ts start). */
export type ReplayTuning = Pick<ReplayInput, 'pollIntervalMs' | 'batchSize' | 'batchesPerRun'>;

/** A started replay, or the count of a dry run. */
export type ReplayStart = { matched: number } | { matched: number; replay: string };

/** GET /admin/replays/:id and `intake events replays show ID`. */
export interface ReplayView {
  id: string;
  status: ReplayStatus;
  matched: number;
  replayed: number;
  parked: number;
  notStarted: number;
  reason: string;
  requestedBy: string;
  filter: ReplayFilter;
  createdAt: string;
  finishedAt: string | null;
  /** The canary run that parked (status `stopped`). */
  stoppedBy?: ReplayProgress['stoppedBy'];
}

const ID = /^replay:[a-z0-9_-]{1,64}:[0-9a-f]{8}$/;

interface ReplayRow {
  id: string;
  reason: string;
  requested_by: string;
  filter: ReplayFilter;
  matched: number;
  status: ReplayStatus;
  replayed: number;
  not_started: number;
  created_at: Date;
  finished_at: Date | null;
}

/**
 * Replays of archived events (`intake events replay`, POST /admin/replay) as replayEvents workflows.
 * The API counts the matching events (the archive is in its store) and records who asked and why in
 * the `replays` table; the workflow does the rest and writes its final counts there too.
 */
export class ReplayService {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly store: Store,
    private readonly archive: EventArchive,
  ) {}

  /**
   * Counts the matching archived events; a dry run stops there, else a replay starts. `tuning` is
   * for tests and fixtures only (smaller batches and runs than a real replay would use); neither the
   * API nor the CLI passes it.
   */
  async start(req: ReplayRequest, requestedBy: string, tuning: ReplayTuning = {}): Promise<ReplayStart> {
    const canary = canaryOf(req.canary);
    const prefix = `${req.source}:`;
    const filter: ReplayFilter = {
      source: req.source,
      ...(req.type ? { type: req.type } : {}),
      ...(req.since ? { since: new Date(req.since).toISOString() } : {}),
      // The events received until now: later ones are not part of what was counted.
      until: new Date(req.until ?? Date.now()).toISOString(),
      ...(req.ids ? { ids: req.ids.map((id) => (id.startsWith(prefix) ? id : prefix + id)) } : {}),
      status: req.status ?? 'processed',
    };
    const { matched, maxSeq } = await this.archive.count(this.store, filter);
    if (req.dryRun) return { matched };
    const id = `replay:${req.source}:${randomBytes(4).toString('hex')}`;
    const input: ReplayInput = {
      filter: { ...filter, maxSeq },
      matched,
      reason: req.reason,
      requestedBy,
      ...(canary ? { canary } : {}),
      ...(req.rate ? { ratePerSecond: req.rate } : {}),
      ...tuning,
    };
    await this.store.query(
      `INSERT INTO replays (id, reason, requested_by, filter, matched, not_started) VALUES ($1, $2, $3, $4, $5, $5)`,
      [id, req.reason, requestedBy, JSON.stringify(input.filter), matched],
    );
    await this.client.workflow.start(replayEvents, {
      workflowId: id,
      taskQueue: this.taskQueue,
      args: [input],
    });
    return { matched, replay: id };
  }

  /** A replay's status and counts; NotFoundError for an unknown id. */
  async get(id: string): Promise<ReplayView> {
    if (!ID.test(id)) throw new UnknownOperatorTargetError('unknown replay');
    const { rows } = await this.store.query<ReplayRow>('SELECT * FROM replays WHERE id = $1', [id]);
    const row = rows[0];
    if (!row) throw new UnknownOperatorTargetError('unknown replay');
    const view: ReplayView = {
      id,
      status: row.status,
      matched: row.matched,
      replayed: row.replayed,
      parked: 0,
      notStarted: row.not_started,
      reason: row.reason,
      requestedBy: row.requested_by,
      filter: row.filter,
      createdAt: row.created_at.toISOString(),
      finishedAt: row.finished_at?.toISOString() ?? null,
    };
    // The workflow's own counts while it runs and once it completed (its result); the row's when it
    // was cancelled or is gone.
    const progress = await this.progress(id);
    if (progress) Object.assign(view, pickCounts(progress));
    // Replay runs that parked after the canary: the archive knows (processEvent settles it).
    const parked = await this.store.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM event_archive WHERE replay_id = $1 AND status = 'parked'`,
      [id],
    );
    view.parked = Math.max(view.parked, parked.rows[0]?.n ?? 0);
    return view;
  }

  /** The workflow's progress (its query, or its result once closed); undefined without an answer. */
  private async progress(id: string): Promise<ReplayProgress | undefined> {
    const handle = this.client.workflow.getHandle<typeof replayEvents>(id);
    try {
      const desc = await handle.describe();
      if (desc.status.name === 'COMPLETED') return await handle.result();
      if (desc.status.name !== 'RUNNING') return undefined; // its last counts are in the row
      const live = await this.client.connection.withDeadline(Date.now() + 5000, () =>
        handle.query(replayProgressQuery),
      );
      // A run that set its final status is still recording it (replayFinish): it is closed, with
      // finishedAt, only once the row says so.
      return { ...live, status: 'running' };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      return undefined; // no worker to answer: the row's counts
    }
  }

  /** The most recent replays, newest first. */
  async list(limit = 20): Promise<ReplayView[]> {
    const { rows } = await this.store.query<{ id: string }>(
      'SELECT id FROM replays ORDER BY created_at DESC LIMIT $1',
      [limit],
    );
    return Promise.all(rows.map((r) => this.get(r.id)));
  }

  /** Cancels a running replay: events not yet started are not; replayed + notStarted = matched. */
  async cancel(id: string): Promise<void> {
    const view = await this.get(id);
    if (view.status !== 'running') throw new RedriveNotRunningError(view.status, 'replay');
    await this.client.workflow.getHandle<typeof replayEvents>(id).cancel();
  }
}

function pickCounts(p: ReplayProgress): Partial<ReplayView> {
  return {
    status: p.status,
    matched: p.matched,
    replayed: p.replayed,
    parked: p.parked,
    notStarted: p.notStarted,
    ...(p.stoppedBy ? { stoppedBy: p.stoppedBy } : {}),
  };
}
