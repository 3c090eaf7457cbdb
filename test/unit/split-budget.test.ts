import { LOCAL_ATTEMPTS, splitBudget } from '../../workflows/process-event';

describe('splitBudget (quick local attempts vs the regular activity)', () => {
  it('keeps the configured budget per round and leaves the regular activity most of it', () => {
    expect(splitBudget(10)).toEqual({ local: LOCAL_ATTEMPTS, regular: 10 - LOCAL_ATTEMPTS });
    expect(splitBudget(3)).toEqual({ local: 1, regular: 2 });
    expect(splitBudget(2)).toEqual({ local: 1, regular: 1 });
    for (let n = 1; n <= 20; n++) {
      const { local, regular } = splitBudget(n);
      expect(local).toBeGreaterThanOrEqual(1);
      expect(local + regular).toBe(Math.max(n, 1));
    }
  });

  it('with a budget of one, the quick attempt is the whole round', () => {
    expect(splitBudget(1)).toEqual({ local: 1, regular: 0 });
  });
});
