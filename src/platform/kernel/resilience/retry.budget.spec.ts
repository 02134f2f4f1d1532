import { RetryBudget } from './retry.budget';

describe('RetryBudget (token bucket)', () => {
  it('lets a quiet service spend its reserve on isolated blips', () => {
    const budget = new RetryBudget({ ratio: 0.1, capacity: 3 });
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(budget.retries).toBe(3);
    expect(budget.refused).toBe(1);
  });

  it('keeps retries near the ratio of calls during an outage, whatever each call would like', () => {
    const budget = new RetryBudget({ ratio: 0.1, capacity: 10 });
    const calls = 10_000;
    for (let i = 0; i < calls; i++) {
      budget.recordAttempt();
      // Every call fails and would retry twice.
      for (let r = 0; r < 2 && budget.tryRetry(); r++);
    }
    // 10 % of the calls plus the initial reserve, never the 200 % a naive policy sends.
    expect(budget.retries).toBeLessThanOrEqual(calls * 0.1 + 10);
    expect(budget.retries).toBeGreaterThanOrEqual(calls * 0.1 - 1);
  });

  it('never holds more than its capacity', () => {
    const budget = new RetryBudget({ ratio: 0.5, capacity: 2 });
    for (let i = 0; i < 100; i++) budget.recordAttempt();
    expect(budget.available).toBe(2);
  });

  it('refuses every retry with a ratio and capacity of zero (retries switched off)', () => {
    const budget = new RetryBudget({ ratio: 0, capacity: 0 });
    budget.recordAttempt();
    expect(budget.tryRetry()).toBe(false);
  });
});
