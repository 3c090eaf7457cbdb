/**
 * Bounds the workflow starts one API process has in flight. Past the server's capacity, more
 * concurrent starts only queue inside Temporal, and a request that then gives up with 503 has still
 * cost the server a start. Waiting here instead means a request that cannot get a slot before its
 * deadline is refused without touching Temporal. (Hand-written: the queue libraries that fit are
 * ESM-only or have no per-waiter deadline.)
 */
export class StartLimiter {
  private active = 0;
  private readonly waiters: { grant: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    /** Starts allowed in flight at once (INTAKE_MAX_INFLIGHT_STARTS). */
    readonly limit: number,
  ) {}

  /**
   * Takes a slot if one is free right now and returns its release (idempotent); undefined without
   * waiting otherwise (the caller spools the event instead). Ingest takes the slot before the
   * event's binding, so a burst finds the limiter full before it writes anything.
   */
  tryAcquire(): (() => void) | undefined {
    if (this.active >= this.limit) return undefined;
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.grant();
      else this.active--;
    };
  }

  /** Runs `fn` once a slot is free; rejects with `onTimeout()` if none frees before `deadline`. */
  async run<T>(deadline: number, onTimeout: () => Error, fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          grant: () => {
            clearTimeout(waiter.timer);
            resolve();
          },
          timer: setTimeout(
            () => {
              this.waiters.splice(this.waiters.indexOf(waiter), 1);
              reject(onTimeout());
            },
            Math.max(0, deadline - Date.now()),
          ),
        };
        this.waiters.push(waiter);
      });
    } else {
      this.active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiters.shift();
      // The slot passes straight to the next waiter, so `active` stays the same.
      if (next) next.grant();
      else this.active--;
    }
  }
}
