import type { Worker, State } from '@temporalio/worker';

/**
 * The Workers of one `intake worker` process, run and stopped as one: the main Worker (workflows
 * and every activity on the shared task queue) and one activity-only Worker per rate-limited
 * source (its own task queue with `maxTaskQueueActivitiesPerSecond`).
 */
export class WorkerGroup {
  constructor(
    /** Polls the shared task queue: the processEvent workflow and every activity. */
    readonly main: Worker,
    /** Activity-only Workers on the per-source, rate-limited queues. */
    readonly rateLimited: readonly Worker[] = [],
  ) {}

  /** Every Worker of the group, the main one first. */
  get workers(): Worker[] {
    return [this.main, ...this.rateLimited];
  }

  /** Runs every Worker; resolves when all have stopped. If one fails, the others are stopped too. */
  async run(): Promise<void> {
    const runs = this.workers.map((w) => w.run());
    try {
      await Promise.all(runs);
    } catch (err) {
      this.shutdown();
      await Promise.allSettled(runs);
      throw err;
    }
  }

  /** Starts a graceful shutdown of every running Worker (each drains within shutdownGraceTime). */
  shutdown(): void {
    for (const w of this.workers) if (w.getState() === 'RUNNING') w.shutdown();
  }

  /** The main Worker's state. */
  getState(): State {
    return this.main.getState();
  }
}
