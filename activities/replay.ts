import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { processEventInput, startEvent } from '../src/ingest/workflow-start';
import { eventArchiveFor } from '../src/ingest/archive';
import type { Config } from '../src/config';
import { runIdOf } from '../src/operations/event-service';
import { payloadOffloadFor } from '../src/ingest/payload-offload';
import { mapLimit } from '../src/platform/map-limit';

import type { Store } from '../src/store/store';
import type { ArchivedPayload } from '../src/store/event-archive';
import { statusQuery, type processEvent } from '../workflows/process-event';
import type { ReplayFilter, ReplayProgress, ReplayRunState } from '../workflows/replay-types';

/** What the replay activities need from the worker process. */
export interface ReplayActivityDeps {
  store: Store;
  client: Client;
  config: Config;
}

/** How long one replay start may wait for Temporal. */
const START_TIMEOUT_MS = 30_000;
/** Replay starts in flight at once within one batch. */
const START_CONCURRENCY = 8;

/** Starts one replay run; undefined when the event's source is no longer registered. */
function replayRunStarter({ store, client, config }: ReplayActivityDeps) {
  return async (r: ArchivedPayload): Promise<string | undefined> => {
    const source = config.registry.find(r.source);
    if (!source) return undefined;
    const runId = runIdOf(r.id, r.revision);
    // A large body goes to the store under the run's id, as at ingest (claim check).
    const body = await payloadOffloadFor(config).prepare(store, runId, r.payload);
    const input = processEventInput(config, source, {
      id: r.id,
      source: r.source,
      eventId: r.id.slice(r.source.length + 1),
      eventType: r.eventType,
      entity: r.entity,
      ...body,
      params: r.params,
      receivedAt: r.receivedAt,
      revision: r.revision,
    });
    await startEvent(
      client,
      config,
      {
        workflowId: runId,
        input,
        searchAttributes: { source: r.source, eventType: r.eventType, entity: r.entity },
      },
      Date.now() + START_TIMEOUT_MS,
    );
    return runId;
  };
}

/** Activities of the replayEvents workflow: reading the archive, starting replay runs, the record. */
export function createReplayActivities({ store, client, config }: ReplayActivityDeps) {
  const archive = eventArchiveFor(config);

  const startRun = replayRunStarter({ store, client, config });

  return {
    /** Up to `limit` matching archived ids after arrival number `after`. */
    async replayPage(filter: ReplayFilter, after: string, limit: number) {
      return archive.page(store, filter, after, limit);
    },

    /**
     * Starts a replay run of each event: a fresh processEvent under `<id>:r<revision>` with the
     * archived payload and the event's next revision (claimed once per replay, however often this
     * activity is retried), with the same search attributes as the first run. Returns the run ids
     * started (or found already started by an earlier attempt); events gone from the archive, or
     * whose source is no longer registered, are left out.
     */
    async replayStart(replayId: string, ids: string[]): Promise<string[]> {
      const rows = await archive.claimForReplay(store, replayId, ids);
      const order = new Map(ids.map((id, i) => [id, i]));
      rows.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
      // A few starts in flight at once: one at a time, a replay trailed the fresh drain (0.55-0.67x).
      let count = 0;
      const started = await mapLimit(rows, START_CONCURRENCY, async (r) => {
        const runId = await startRun(r);
        if (runId) Context.current().heartbeat(++count);
        return runId;
      });
      return started.filter((id): id is string => id !== undefined);
    },

    /** The status of replay runs (the processEvent status query), for the canary. */
    async replayRunStates(runIds: string[]): Promise<ReplayRunState[]> {
      return Promise.all(
        runIds.map(async (runId) => {
          try {
            const s = await client.workflow.getHandle<typeof processEvent>(runId).query(statusQuery);
            return { runId, status: s.status, lastError: s.lastError };
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) return { runId, status: 'gone', lastError: null };
            throw err; // no worker answered: the activity retries
          }
        }),
      );
    },

    /** Records the replay's outcome in the `replays` table (it outlives the workflow's retention). */
    async replayFinish(replayId: string, p: ReplayProgress): Promise<void> {
      await store.query(
        `UPDATE replays SET status = $2, replayed = $3, not_started = $4, finished_at = now() WHERE id = $1`,
        [replayId, p.status, p.replayed, p.notStarted],
      );
    },
  };
}
