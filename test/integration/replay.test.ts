import { Worker, type ReplayResult } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import path from 'node:path';
import * as proto from '@temporalio/proto';
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

/** The same history with `localFirst: true` in processEvent's input, as the current API starts it. */
function withLocalFirstInput(history: History): History {
  const events = (history.events ?? []).map((e, i) => {
    const payload = e.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (i !== 0 || !payload?.data) return e;
    const input = JSON.parse(Buffer.from(payload.data).toString('utf8')) as Record<string, unknown>;
    expect(input.localFirst).toBeUndefined();
    const data = Buffer.from(JSON.stringify({ ...input, localFirst: true }));
    const attrs = e.workflowExecutionStartedEventAttributes;
    return {
      ...e,
      workflowExecutionStartedEventAttributes: { ...attrs, input: { payloads: [{ ...payload, data }] } },
    };
  });
  return { ...history, events };
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
    // v2-*: local-first chosen by patched('local-activity-first') (patch marker in the history);
    // both kept until that patch is retired (docs/workflow-changes.md). The rest: local-first asked
    // for in the input (no patch marker). v3-*: a parked or discarded event tells the archive
    // (patched('archive-settle'), a local activity). v4-*: a parking writes IntakeIssue
    // (patched('intake-issue-attribute')). v5-*: the handler is `handleEvent`
    // (patched('typed-handler-activity')); the others schedule the activity named in their input.
    expect(names).toEqual([
      'parked-discarded',
      'parked-retried-processed',
      'processed-after-fallback',
      'processed-first-try',
      'v1-parked-discarded',
      'v1-parked-retried-processed',
      'v1-processed-first-try',
      'v2-parked-discarded',
      'v2-parked-retried-processed',
      'v2-processed-after-fallback',
      'v2-processed-first-try',
      'v3-parked-discarded',
      'v3-parked-retried-processed',
      'v3-processed-after-fallback',
      'v3-processed-first-try',
      'v4-parked-discarded',
      'v4-parked-retried-processed',
      'v4-processed-after-fallback',
      'v4-processed-first-try',
      'v5-parked-discarded',
      'v5-parked-retried-processed',
      'v5-processed-after-fallback',
      'v5-processed-first-try',
    ]);
  });

  // Issue 21: the handler activity is typed (`handleEvent`, dispatched on the event's source in the
  // worker) behind patched('typed-handler-activity'); runs recorded before it schedule the name from
  // their input (`handleMailgun`), and the current code still replays them by that name.
  it("schedules handleEvent behind the typed-handler-activity patch, the input's activity before it", () => {
    const activityTypes = (h: History) =>
      new Set(
        (h.events ?? []).flatMap((e) => {
          const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
          const local = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
          const localType = local
            ? (JSON.parse(Buffer.from(local).toString('utf8')) as { activity_type?: string }).activity_type
            : undefined;
          return [scheduled, localType].filter((t): t is string => !!t);
        }),
      );
    const hasMarker = (h: History) =>
      (h.events ?? []).some((e) =>
        Buffer.from(e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data ?? [])
          .toString()
          .includes('typed-handler-activity'),
      );
    for (const { name, history } of recordedHistories()) {
      const typed = name.startsWith('v5-');
      expect([name, hasMarker(history)]).toEqual([name, typed]);
      expect([name, [...activityTypes(history)].filter((t) => t !== 'settleArchivedEvent')]).toEqual([
        name,
        [typed ? 'handleEvent' : 'handleMailgun'],
      ]);
    }
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

  // A rolling deploy: the new API asks for local-first in the input, a worker still on the previous
  // release runs the event (it asks patched(), so the history gets the patch marker and its
  // TemporalChangeVersion upsert), and a new worker later replays it without calling patched().
  it('replays a local-first start that a worker of the previous release ran (patch marker in history)', async () => {
    const v2 = recordedHistories().filter((h) => h.name.startsWith('v2-'));
    expect(v2).toHaveLength(4);
    const histories = v2.map(({ name, history }) => ({
      workflowId: name,
      history: withLocalFirstInput(history),
    }));
    const results: ReplayResult[] = [];
    for await (const r of Worker.runReplayHistories(
      { workflowsPath: require.resolve('../../workflows') },
      histories,
    ))
      results.push(r);
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(v2.map((h) => [h.name, undefined]));
  });

  // Issue 21: an event parked before the IntakeIssue patch (no marker, no IntakeIssue in its
  // history) is resumed by a `retry` on the current code, processed, and replays; one parked after
  // it has the marker and the attribute in its parking upsert and replays too.
  it('resumes an event parked before the intake-issue-attribute patch on the current code', async () => {
    const marker = (h: History) =>
      (h.events ?? []).some((e) =>
        Buffer.from(e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data ?? [])
          .toString()
          .includes('intake-issue-attribute'),
      );
    const issueUpserts = (h: History) =>
      (h.events ?? []).filter(
        (e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.IntakeIssue,
      ).length;
    const all = new Map(recordedHistories().map((h) => [h.name, h.history]));
    const before = ['parked-retried-processed', 'v3-parked-retried-processed'];
    for (const name of before) {
      expect(marker(all.get(name)!)).toBe(false);
      expect(issueUpserts(all.get(name)!)).toBe(0);
    }
    // Written when it parks, removed (an empty value) by the resumed round's first upsert.
    expect(marker(all.get('v4-parked-retried-processed')!)).toBe(true);
    expect(issueUpserts(all.get('v4-parked-retried-processed')!)).toBe(2);
    const results: ReplayResult[] = [];
    for await (const r of Worker.runReplayHistories(
      { workflowsPath: require.resolve('../../workflows') },
      [...before, 'v4-parked-retried-processed'].map((name) => ({
        workflowId: name,
        history: all.get(name)!,
      })),
    ))
      results.push(r);
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(
      [...before, 'v4-parked-retried-processed'].map((n) => [n, undefined]),
    );
    const last = (h: History) => h.events?.[h.events.length - 1]?.eventType;
    for (const name of before)
      expect(last(all.get(name)!)).toBe(
        proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
      );
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

  // canary-stopped completed (before issue 19); v2-canary-stopped failed with the
  // `redrive-stopped-fails` patch marker. Both must replay on the current code.
  it('replays the recorded redriveParked histories (canary stopped, cancelled, canary then rest)', async () => {
    const redrives = recordedHistories(path.join(HISTORIES_DIR, 'redrive'));
    expect(redrives.map((h) => h.name)).toEqual([
      'canary-stopped',
      'canary-then-rest',
      'cancelled',
      'v2-canary-stopped',
    ]);
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

  // Issue 20: replayEvents (workflows/replay-events.ts), recorded with `record-histories.ts --replay`.
  // v2-*: with the `replay-continue-as-new` patch marker, and the two runs of a replay that continued
  // as new once; the others are runs from before it, which keep the single-run shape.
  it('replays the recorded replayEvents histories (completed, canary stopped, cancelled, continued as new)', async () => {
    const replays = recordedHistories(path.join(HISTORIES_DIR, 'replay'));
    expect(replays.map((h) => h.name)).toEqual([
      'canary-stopped',
      'cancelled',
      'completed',
      'v2-canary-stopped',
      'v2-cancelled',
      'v2-completed',
      'v2-continued-as-new',
      'v2-continued-completed',
    ]);
    const results: ReplayResult[] = [];
    for await (const r of Worker.runReplayHistories(
      { workflowsPath: require.resolve('../../workflows') },
      replays.map(({ name, history }) => ({ workflowId: name, history })),
    ))
      results.push(r);
    expect(results.map((r) => [r.workflowId, r.error?.message])).toEqual(
      replays.map((h) => [h.name, undefined]),
    );
  });
});
