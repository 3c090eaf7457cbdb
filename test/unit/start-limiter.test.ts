import { StartLimiter } from '../../src/ingest/start-limiter';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('StartLimiter', () => {
  it('never runs more than `limit` at once and hands each freed slot to the next waiter', async () => {
    const limiter = new StartLimiter(2);
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 5 }, deferred);
    const order: number[] = [];
    const all = gates.map((g, i) =>
      limiter.run(
        Date.now() + 10_000,
        () => new Error('timeout'),
        async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(i);
          await g.promise;
          running--;
        },
      ),
    );
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([0, 1]);
    for (const g of gates) {
      g.resolve();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses a waiter whose deadline passes before a slot frees, without running it', async () => {
    const limiter = new StartLimiter(1);
    const gate = deferred();
    const first = limiter.run(
      Date.now() + 10_000,
      () => new Error('timeout'),
      () => gate.promise,
    );
    let ran = false;
    const second = limiter.run(
      Date.now() + 20,
      () => new Error('no slot'),
      async () => {
        ran = true;
      },
    );
    await expect(second).rejects.toThrow('no slot');
    expect(ran).toBe(false);
    gate.resolve();
    await first;
    // The slot is free again after the refusal.
    await expect(
      limiter.run(
        Date.now() + 1000,
        () => new Error('x'),
        async () => 'ok',
      ),
    ).resolves.toBe('ok');
  });

  it('frees the slot when the work throws', async () => {
    const limiter = new StartLimiter(1);
    await expect(
      limiter.run(
        Date.now() + 1000,
        () => new Error('t'),
        () => Promise.reject(new Error('boom')),
      ),
    ).rejects.toThrow('boom');
    await expect(
      limiter.run(
        Date.now() + 1000,
        () => new Error('t'),
        async () => 1,
      ),
    ).resolves.toBe(1);
  });

  it('tryAcquire takes a free slot at once and declines (without queueing) when none is', async () => {
    const limiter = new StartLimiter(1);
    const release = limiter.tryAcquire();
    expect(release).toBeDefined();
    expect(limiter.tryAcquire()).toBeUndefined();
    release!();
    release!(); // idempotent: a second call frees nothing more
    const again = limiter.tryAcquire();
    expect(again).toBeDefined();
    expect(limiter.tryAcquire()).toBeUndefined();
    // A released slot passes to a waiter of run().
    const waiting = limiter.run(
      Date.now() + 1000,
      () => new Error('t'),
      async () => 'ran',
    );
    again!();
    await expect(waiting).resolves.toBe('ran');
  });
});
