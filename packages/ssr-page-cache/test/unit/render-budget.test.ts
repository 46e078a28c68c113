import { ConcurrencyLimit, RenderBudget } from '../../src/coordination/render-budget';

describe('RenderBudget (a token bucket, on a clock the test moves)', () => {
  it('allows a burst, then the refill rate, and says when the next render is allowed', () => {
    let now = 0;
    const budget = new RenderBudget(2, 3, () => now);
    expect([budget.take(), budget.take(), budget.take(), budget.take()]).toEqual([true, true, true, false]);
    expect(budget.secondsUntilNext()).toBe(1);
    now += 500; // half a second at 2 a second: one render
    expect([budget.take(), budget.take()]).toEqual([true, false]);
    now += 60_000; // never more than the burst
    expect(Array.from({ length: 5 }, () => budget.take())).toEqual([true, true, true, false, false]);
    const slow = new RenderBudget(0.1, 1, () => now);
    expect(slow.take()).toBe(true);
    expect(slow.secondsUntilNext()).toBe(10);
  });
});

describe('ConcurrencyLimit', () => {
  it('runs at most the limit at once, the rest in turn, and refuses beyond the waiting bound', async () => {
    const limit = new ConcurrencyLimit(2, 1);
    const first = await limit.acquire();
    const second = await limit.acquire();
    expect(limit.full).toBe(true);
    let thirdGot = false;
    const third = limit.acquire().then((release) => {
      thirdGot = true;
      return release;
    });
    expect(await limit.acquire()).toBeUndefined(); // one may wait, not two
    await Promise.resolve();
    expect(thirdGot).toBe(false);
    first!();
    first!(); // a second release of the same slot frees nothing more
    const releaseThird = await third;
    expect([thirdGot, limit.active, limit.queued]).toEqual([true, 2, 0]);
    second!();
    releaseThird!();
    expect(limit.active).toBe(0);
  });
});
