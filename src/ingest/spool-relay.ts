import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Logger } from '../platform/logger';
import type { ApiMetrics } from '../platform/metrics';
import { settledArchived } from '../store/event-archive';
import type { ClaimedStart, SpoolReason, SpoolStats, StartSpool } from '../store/start-spool';
import type { Queryable } from '../store/store';
import { startEvent, startRefusal } from './workflow-start';

/** Options of {@link SpoolRelay}. */
export interface SpoolRelayOptions {
  client: Client;
  config: Config;
  spool: StartSpool;
  /** The store holding the event archive (a row of an event that already ran is not started). */
  store: Queryable;
  logger: Logger;
  metrics?: ApiMetrics;
  /** Pause between rounds while there is nothing to relay (or Temporal is down). Default 1000 ms. */
  idleMs?: number;
}

/**
 * Relays the start spool into Temporal. Every API process runs one; there is no leader: rows are
 * leased with `FOR UPDATE SKIP LOCKED`, started oldest first, and deleted once Temporal has
 * persisted the start or reports it already had ("already started" is done, never doubled). A relay
 * killed mid-round leaves its leased rows to whoever takes them when the lease ends.
 *
 * It also tells ingest when to spool without trying Temporal first: while Temporal is known to be
 * down (a start failed, and the relay's probe has not seen it answer since), and while the spool
 * holds a backlog (so new events queue behind older ones and arrival order is kept as far as the
 * relay can).
 */
export class SpoolRelay {
  private temporalDown = false;
  private backlog = false;
  private stats: SpoolStats = { depth: 0, waiting: 0, dead: 0, oldestAgeS: 0 };
  private addedSinceStats = 0;
  private stopped = true;
  private loop?: Promise<void>;
  private wake?: () => void;
  private readonly idleMs: number;
  /** Starts relayed at once: the API's in-flight start bound. */
  private readonly batch: number;
  /** A lease outlives every start of a round, so a live relay never loses its rows to another. */
  private readonly leaseMs: number;

  constructor(private readonly opts: SpoolRelayOptions) {
    this.idleMs = opts.idleMs ?? 1000;
    this.batch = opts.config.maxInflightStarts;
    this.leaseMs = opts.config.temporal.startTimeoutMs * 2 + 10_000;
  }

  /** True while new events go to the spool rather than straight to Temporal. */
  get spooling(): boolean {
    return this.temporalDown || this.backlog;
  }

  /** True while this process believes Temporal cannot take starts. */
  get temporalUnavailable(): boolean {
    return this.temporalDown;
  }

  /**
   * Whether one more event fits under INTAKE_SPOOL_MAX_DEPTH. The depth is the relay's last count
   * plus what this process spooled since; replicas do not see each other's latest rows, so this is
   * only a cheap early refusal. The limit itself is enforced where rows are inserted, atomically
   * (StartSpool.addMany).
   */
  hasRoom(): boolean {
    return this.stats.depth + this.addedSinceStats < this.opts.config.spoolMaxDepth;
  }

  /** Ingest spooled an event: route the next ones to the spool too, and relay soon. */
  noteSpooled(reason: SpoolReason): void {
    this.addedSinceStats++;
    const wasSpooling = this.spooling;
    if (reason === 'unavailable' || reason === 'timeout') this.temporalDown = true;
    this.backlog = true;
    if (!wasSpooling) this.wake?.();
  }

  /** Starts relaying in the background. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Stops after the current round; leased rows not yet done go back to the spool. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let delay = this.idleMs;
      try {
        if ((await this.round()) > 0) delay = 0;
      } catch (err) {
        // The store is down: nothing can be relayed or spooled; try again later.
        this.opts.logger.warn({ err: { name: (err as Error)?.name } }, 'spool relay round failed');
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
  }

  /** Whether Temporal answers at all. */
  private async probe(): Promise<boolean> {
    const { client } = this.opts;
    try {
      await client.connection.withDeadline(Date.now() + 2000, () => client.workflowService.getSystemInfo({}));
      return true;
    } catch {
      return false;
    }
  }

  /** One round: count, then lease and start a batch. Resolves to how many rows were done. */
  async round(): Promise<number> {
    const { spool, client, config, logger, metrics } = this.opts;
    this.stats = await spool.stats();
    this.addedSinceStats = 0;
    // Dead letters (starts Temporal refused for good) are not counted: they hold nothing back.
    this.backlog = this.stats.waiting > 0;
    if (this.stats.depth === 0) {
      if (this.temporalDown) this.temporalDown = !(await this.probe());
      return 0;
    }
    if (this.temporalDown) {
      if (!(await this.probe())) return 0;
      this.temporalDown = false;
      logger.info({ depth: this.stats.depth }, 'Temporal answers again: relaying the spool');
    }
    const claimed = await spool.claim(this.batch, this.leaseMs);
    if (claimed.length === 0) return 0;
    const deadline = Date.now() + config.temporal.startTimeoutMs;
    const refusals: ('too-large' | 'invalid' | undefined)[] = [];
    // A row whose event the archive has as processed or discarded already ran (a redelivery spooled
    // before its first run settled): starting it once its workflow is gone would run it twice.
    const settled = await settledArchived(
      this.opts.store,
      claimed.map((c) => c.start.workflowId),
    );
    const outcomes = await Promise.all(
      claimed.map((c, i) =>
        settled.has(c.start.workflowId)
          ? Promise.resolve('duplicate' as const)
          : startEvent(client, config, c.start, deadline).then(
              // Eager or not, it started (a relayed start in `intake dev` can be eager).
              (o) => (o === 'duplicate' ? o : ('started' as const)),
              (err: unknown) => {
                refusals[i] = startRefusal(err);
                return refusals[i] ? ('refused' as const) : ('retry' as const);
              },
            ),
      ),
    );
    const done = claimed.filter((_, i) => outcomes[i] === 'started' || outcomes[i] === 'duplicate');
    const retry = claimed.filter((_, i) => outcomes[i] === 'retry');
    await spool.done(done.map((c) => c.seq));
    await spool.release(
      retry.map((c) => c.seq),
      0,
    );
    const buried = await this.bury(claimed, outcomes, refusals);
    if (retry.length > 0) this.temporalDown = true;
    // What this round settled (started, found started, or dead) no longer holds new events back:
    // without this, the events of the next second queued behind a row that had just died.
    this.stats.depth = Math.max(0, this.stats.depth - done.length - buried);
    this.stats.waiting = this.stats.depth;
    this.backlog = this.stats.waiting > 0;
    for (const [i, c] of claimed.entries()) {
      const outcome = outcomes[i];
      if (outcome !== 'started' && outcome !== 'duplicate') continue;
      const source = c.start.searchAttributes.source;
      metrics?.relayed.inc({ source, outcome });
      // A relayed start is a workflow started like a direct one (dashboards and alerts count both).
      if (outcome === 'started') metrics?.starts.inc({ source });
    }
    if (done.length) logger.debug({ relayed: done.length }, 'spooled starts relayed');
    return done.length;
  }

  /**
   * A start Temporal can never take becomes a dead letter at once: it is not retried, does not hold
   * new events back, and stays visible (`intake events list --status dead`) with its reason.
   * Returns how many rows were buried.
   */
  private async bury(
    claimed: ClaimedStart[],
    outcomes: readonly string[],
    refusals: readonly ('too-large' | 'invalid' | undefined)[],
  ): Promise<number> {
    const { spool, logger } = this.opts;
    const refusedIdx = claimed.map((_, i) => i).filter((i) => outcomes[i] === 'refused');
    for (const kind of ['too-large', 'invalid'] as const) {
      const rows = refusedIdx.filter((i) => refusals[i] === kind).map((i) => claimed[i]!);
      await spool.bury(
        rows.map((c) => c.seq),
        kind === 'too-large'
          ? 'Temporal refused the start: over its size limit'
          : 'Temporal refused the start as invalid',
      );
      for (const c of rows)
        logger.error(
          { id: c.start.workflowId, refusal: kind },
          'Temporal refused a spooled start: dead letter',
        );
    }
    return refusedIdx.length;
  }
}
