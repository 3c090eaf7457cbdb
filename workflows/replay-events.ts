import {
  CancellationScope,
  CancelledFailure,
  continueAsNew,
  defineQuery,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { createReplayActivities } from '../activities/replay';
import { canarySize } from './redrive-parked';
import type { ReplayInput, ReplayProgress, ReplayRunState } from './replay-types';

/** The replay's progress (status, counts, what stopped it). */
export const replayProgressQuery = defineQuery<ReplayProgress>('progress');

const { replayPage, replayRunStates, replayFinish } = proxyActivities<
  ReturnType<typeof createReplayActivities>
>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '10 seconds' },
});
// Starts runs one by one and heartbeats after each: a worker killed mid-batch is noticed in 30 s and
// the batch is retried; the retry starts nothing twice (revision claimed once per replay, workflow
// ids deduplicated by Temporal).
const { replayStart } = proxyActivities<ReturnType<typeof createReplayActivities>>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumInterval: '10 seconds' },
});

/** Archived ids read per page. */
const PAGE = 500;
/** Replay runs started by one activity when no rate is given. */
const BATCH = 50;

const settled = (s: ReplayRunState) => s.status !== 'queued' && s.status !== 'processing';

/** Starts the runs of `ids`; counts them; a canary run is awaited until it settles. */
async function replay(
  replayId: string,
  ids: string[],
  canary: boolean,
  input: ReplayInput,
  progress: ReplayProgress,
): Promise<ReplayRunState | undefined> {
  // Not cancellable while it runs, so the counts are exact: a cancel takes effect between batches.
  const runIds = await CancellationScope.nonCancellable(() => replayStart(replayId, ids));
  progress.replayed += runIds.length;
  progress.notStarted = progress.matched - progress.replayed;
  if (!canary || runIds.length === 0) return undefined;
  for (;;) {
    const states = await replayRunStates(runIds);
    if (states.every(settled)) return states.find((s) => s.status === 'parked');
    await sleep(input.pollIntervalMs ?? 1000);
  }
}

/** The progress a run starts with: from zero, or where the run it continues left off. */
function initialProgress(input: ReplayInput): ReplayProgress {
  const resumed = input.resume;
  return {
    status: 'running',
    filter: input.filter,
    reason: input.reason,
    requestedBy: input.requestedBy,
    matched: input.matched,
    replayed: resumed?.replayed ?? 0,
    parked: 0,
    notStarted: input.matched - (resumed?.replayed ?? 0),
    canary: canarySize(input.canary, input.matched),
    ...(resumed ? { continuedRuns: resumed.runs } : {}),
  };
}

/** Whether this run has done enough to continue as new: Temporal suggests it, or the test cap. */
function runIsFull(input: ReplayInput, batches: number): boolean {
  return (
    workflowInfo().continueAsNewSuggested ||
    (input.batchesPerRun !== undefined && batches >= input.batchesPerRun)
  );
}

/**
 * Replays archived events: each matching event runs again as a fresh processEvent under
 * `<id>:r<revision>`, with its archived payload and the next revision, and the source's processing
 * replaces its earlier effect (Source.process). With a canary, the first events run one at a time
 * and the replay stops (`stopped`) at the first that parks; the rest are not started. Cancelling
 * stops between batches: replayed + notStarted = matched.
 *
 * A large replay does not grow one history without bound: when Temporal suggests it (or after
 * `batchesPerRun` batches) the run continues as new under the same workflow id, carrying the
 * archive cursor and the counts (`resume`). Queries and cancels address the workflow id, so they
 * reach whichever run is current. Runs that started before this (no `replay-continue-as-new`
 * marker in their history) keep the single-run shape.
 */
export async function replayEvents(input: ReplayInput): Promise<ReplayProgress> {
  const resumed = input.resume;
  const progress = initialProgress(input);
  setHandler(replayProgressQuery, () => progress);
  // Asked once, first: a run that began on the earlier code replays without the marker and keeps
  // running in one history; a new run records it and may continue as new.
  const mayContinue = patched('replay-continue-as-new');
  const replayId = workflowInfo().workflowId;
  const finish = async () => {
    progress.notStarted = progress.matched - progress.replayed;
    await CancellationScope.nonCancellable(() => replayFinish(replayId, progress));
    return progress;
  };

  const cancelled = () => CancellationScope.current().consideredCancelled;
  try {
    let after = resumed?.after ?? '0';
    let batches = 0;
    for (;;) {
      const left = progress.matched - progress.replayed;
      if (left <= 0) break;
      const page = await replayPage(input.filter, after, Math.min(PAGE, left));
      if (page.ids.length === 0) break;
      after = page.last;
      const ids = page.ids.slice(0, left);
      let done = 0;
      while (done < ids.length) {
        // Batches follow each other without a timer: notice a cancel between them.
        if (cancelled()) throw new CancelledFailure('replay cancelled');
        const canary = progress.replayed < progress.canary;
        const size = canary || input.ratePerSecond ? 1 : (input.batchSize ?? BATCH);
        const batch = ids.slice(done, done + size);
        done += batch.length;
        const parked = await replay(replayId, batch, canary, input, progress);
        if (parked) {
          progress.parked++;
          progress.stoppedBy = parked;
          progress.status = 'stopped';
          return await finish();
        }
        if (input.ratePerSecond) await sleep(Math.max(1, Math.round(1000 / input.ratePerSecond)));
        batches++;
        const more = progress.matched - progress.replayed > 0;
        const full = runIsFull(input, batches);
        // The arrival number of the last event handled; a page without them (an activity of the
        // earlier code) continues only at its end.
        const cursor = page.seqs?.[done - 1] ?? (done === ids.length ? page.last : undefined);
        if (mayContinue && more && full && cursor !== undefined && !cancelled()) {
          await continueAsNew<typeof replayEvents>({
            ...input,
            resume: { after: cursor, replayed: progress.replayed, runs: (resumed?.runs ?? 0) + 1 },
          });
        }
      }
    }
    progress.status = 'completed';
    return await finish();
  } catch (err) {
    if (isCancellation(err)) {
      progress.status = 'cancelled';
      await finish();
    }
    throw err;
  }
}
