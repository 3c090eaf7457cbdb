import { Worker, type ReplayResult } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import path from 'node:path';
import { workflowTracingInterceptorModules } from '../../src/temporal/tracing';
import { HISTORIES_DIR, recordedHistories } from '../support/histories';

type History = ReturnType<typeof recordedHistories>[number]['history'];

/**
 * The history with `extra` merged into processEvent's input (the first payload of the started
 * event, plain JSON: the fixtures are recorded without the codec).
 */
function withInput(history: History, extra: Record<string, unknown>): History {
  const copy = structuredClone(history);
  const payload = copy.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload?.data) throw new Error('no workflow input in the history');
  const input = JSON.parse(Buffer.from(payload.data).toString('utf8')) as Record<string, unknown>;
  payload.data = Buffer.from(JSON.stringify({ ...input, ...extra }));
  return copy;
}

/** Replays every history recorded by scripts/record-histories.ts against a workflow bundle. */
async function replay(
  workflowsPath: string,
  workflowModules?: string[],
  edit: (h: History) => History = (h) => h,
): Promise<ReplayResult[]> {
  const histories = recordedHistories().map(({ name, history }) => ({
    workflowId: name,
    history: edit(history),
  }));
  const results: ReplayResult[] = [];
  const options = { workflowsPath, interceptors: { workflowModules } };
  for await (const r of Worker.runReplayHistories(options, histories)) results.push(r);
  return results;
}

describe('replay of recorded workflow histories', () => {
  const names = recordedHistories().map((h) => h.name);

  it('has the recorded paths of both workflow shapes as fixtures', () => {
    // v1-*: recorded before the local-first happy path (regular activity, `processing` upsert);
    // kept until the `local-activity-first` patch is retired (docs/workflow-changes.md).
    expect(names).toEqual([
      'parked-discarded',
      'parked-retried-processed',
      'processed-after-fallback',
      'processed-first-try',
      'v1-parked-discarded',
      'v1-parked-retried-processed',
      'v1-processed-first-try',
    ]);
  });

  it('replays every recorded history on the current workflow code', async () => {
    const results = await replay(require.resolve('../../workflows'));
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(names.map((n) => [n, undefined]));
  });

  // Workers always bundle the OpenTelemetry workflow interceptors (src/temporal/tracing.ts), so events
  // that started on a bundle without them (parked ones, say) must replay with them.
  it('replays every recorded history with the OpenTelemetry workflow interceptors bundled', async () => {
    const results = await replay(require.resolve('../../workflows'), workflowTracingInterceptorModules());
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(names.map((n) => [n, undefined]));
  });

  // Issue 10: the regular activity gets a heartbeat timeout when the input asks for one. Activity
  // options are not part of the determinism check, so histories whose ActivityTaskScheduled has
  // none (every fixture) replay on code that now schedules it with one, without a patch.
  it('replays every recorded history when the input asks for a heartbeat timeout', async () => {
    const results = await replay(require.resolve('../../workflows'), undefined, (h) =>
      withInput(h, { heartbeatTimeoutMs: 2000 }),
    );
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(names.map((n) => [n, undefined]));
  });

  it('fails with DeterminismViolationError when processEvent changes without a patch', async () => {
    const results = await replay(require.resolve('../fixtures/nondeterministic-workflows'));
    expect(results.map((r) => r.workflowId)).toEqual(names);
    for (const r of results) {
      expect(r.error).toBeInstanceOf(DeterminismViolationError);
      expect(r.error?.message).toMatch(/[Nn]ondeterminism/);
    }
  });

  it('replays every recorded history when the same change is behind patched()', async () => {
    const results = await replay(require.resolve('../fixtures/patched-workflows'));
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(names.map((n) => [n, undefined]));
  });

  it('replays the recorded redriveParked histories (canary stopped, cancelled, canary then rest)', async () => {
    const redrives = recordedHistories(path.join(HISTORIES_DIR, 'redrive'));
    expect(redrives.map((h) => h.name)).toEqual(['canary-stopped', 'canary-then-rest', 'cancelled']);
    const results: ReplayResult[] = [];
    for await (const r of Worker.runReplayHistories(
      { workflowsPath: require.resolve('../../workflows') },
      redrives.map(({ name, history }) => ({ workflowId: name, history })),
    ))
      results.push(r);
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(
      redrives.map((h) => [h.name, undefined]),
    );
  });
});
