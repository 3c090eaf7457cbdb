import {
  ApplicationFailure,
  defineQuery,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { createRedriveActivities } from '../activities/redrive';
import { retrySignal } from './process-event';
import type { RedriveEventState, RedriveInput, RedriveProgress, RedriveTarget } from './redrive-types';

/** The redrive's progress (phase, counts, what parked again). */
export const redriveProgressQuery = defineQuery<RedriveProgress>('progress');

const { redriveEventStates, redriveSelect } = proxyActivities<ReturnType<typeof createRedriveActivities>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '10 seconds' },
});

/**
 * Patch id (issue 19): a redrive whose canary stopped fails (ApplicationFailure of type
 * {@link REDRIVE_STOPPED_ERROR_TYPE}, its progress in the details) instead of completing, so the Web
 * UI and `temporal workflow list` show it as Failed, not as a green Completed. Redrives that started
 * before it (the recorded `canary-stopped` history) still complete.
 */
export const REDRIVE_STOPPED_FAILS_PATCH = 'redrive-stopped-fails';

/** Failure type of a redrive stopped by its canary. */
export const REDRIVE_STOPPED_ERROR_TYPE = 'RedriveStopped';

/** Signals sent at once when no rate is given. */
const BATCH = 20;

/** How many events the canary samples: N, or P% rounded up; at least one, at most all. */
export function canarySize(canary: RedriveInput['canary'], total: number): number {
  if (!canary || total === 0) return 0;
  const n = canary.count ?? Math.ceil(((canary.percent ?? 0) * total) / 100);
  return Math.min(total, Math.max(1, n));
}

/** A random sample of `k` targets and the rest; Math.random is the workflow's seeded one (replay-safe). */
function sample(targets: RedriveTarget[], k: number): [RedriveTarget[], RedriveTarget[]] {
  const a = [...targets];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(Math.random() * (a.length - i));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return [a.slice(0, k), a.slice(k)];
}

/** A sampled event has settled when it is no longer waiting for, or running, its retry round. */
function settled(s: RedriveEventState, before: RedriveTarget): boolean {
  if (s.status === 'parked') return s.attempts > (before.attempts ?? 0);
  return s.status !== 'processing' && s.status !== 'queued';
}

/** Sends `retry` to each target: at the input's rate, or in batches as fast as the server takes them. */
async function signalAll(
  targets: RedriveTarget[],
  input: RedriveInput,
  progress: RedriveProgress,
): Promise<void> {
  const one = async (t: RedriveTarget) => {
    try {
      await getExternalWorkflowHandle(t.id).signal(retrySignal);
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The event closed meanwhile (discarded, or resumed by someone else): nothing to resume.
    }
    progress.signalled++;
  };
  if (input.ratePerSecond) {
    for (const t of targets) {
      await one(t);
      await sleep(Math.max(1, Math.round(1000 / input.ratePerSecond)));
    }
    return;
  }
  for (let i = 0; i < targets.length; i += BATCH) await Promise.all(targets.slice(i, i + BATCH).map(one));
}

/**
 * Resumes parked events (the `retry` signal of processEvent), optionally a random canary sample
 * first: the rest follow only if every sampled event was processed; otherwise the redrive stops,
 * reports what parked again, leaves the rest parked and fails (a Failed workflow with the reason).
 * Cancelling it leaves the unsent rest parked.
 */
export async function redriveParked(input: RedriveInput): Promise<RedriveProgress> {
  const progress: RedriveProgress = {
    phase: 'canary',
    filter: input.filter ?? {},
    matched: input.targets?.length ?? 0,
    sample: 0,
    signalled: 0,
    canaryProcessed: 0,
    parkedAgain: [],
  };
  setHandler(redriveProgressQuery, () => progress);

  try {
    const targets = input.targets ?? (await redriveSelect(progress.filter));
    progress.matched = targets.length;
    progress.sample = canarySize(input.canary, targets.length);
    const [canary, rest] = sample(targets, progress.sample);
    if (canary.length > 0) {
      await signalAll(canary, input, progress);
      const before = new Map(canary.map((t) => [t.id, t]));
      let states: RedriveEventState[] = [];
      for (;;) {
        states = await redriveEventStates(canary.map((t) => t.id));
        if (states.every((s) => settled(s, before.get(s.id)!))) break;
        await sleep(input.pollIntervalMs ?? 1000);
      }
      progress.canaryProcessed = states.filter((s) => s.status === 'processed').length;
      const failed = states.filter((s) => s.status !== 'processed');
      if (failed.length > 0) {
        progress.parkedAgain = failed;
        progress.phase = 'stopped';
        const signatures = [...new Set(failed.map((s) => s.signature))];
        progress.reason = `${failed.length} of ${canary.length} canary event(s) did not process (${signatures.join('; ')}); the other ${rest.length} stay parked`;
        if (patched(REDRIVE_STOPPED_FAILS_PATCH)) {
          throw ApplicationFailure.create({
            type: REDRIVE_STOPPED_ERROR_TYPE,
            message: `redrive stopped by its canary: ${progress.reason}`,
            nonRetryable: true,
            details: [progress],
          });
        }
        return progress;
      }
    }
    progress.phase = 'rest';
    await signalAll(rest, input, progress);
    progress.phase = 'done';
    return progress;
  } catch (err) {
    // The query of the closed workflow (replayed) then answers `cancelled` with the counts so far.
    if (isCancellation(err)) progress.phase = 'cancelled';
    throw err;
  }
}
