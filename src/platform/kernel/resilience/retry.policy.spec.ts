import { backoffDelayMs } from './backoff.policy';
import { Deadline, DeadlineExceededError } from './deadline.policy';
import { parseRetryAfterMs, retryWithBackoff, type RetryOptions } from './retry.policy';

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfterMs('3', now)).toBe(3_000);
    expect(parseRetryAfterMs(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP-date, and a past date as no wait', () => {
    expect(parseRetryAfterMs('Tue, 24 Nov 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfterMs('Tue, 24 Nov 2026 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores an absent or unparseable header', () => {
    for (const value of [undefined, null, '', '-1', '1.5', 'soon', '12abc']) {
      expect(parseRetryAfterMs(value, now)).toBeUndefined();
    }
  });
});

describe('retryWithBackoff', () => {
  const settings = (overrides: Partial<RetryOptions> = {}): RetryOptions => ({
    deadline: Deadline.after(5_000),
    maxAttempts: 3,
    backoff: { baseMs: 1, capMs: 5 },
    maxRetryAfterMs: 1_000,
    minAttemptMs: 10,
    classify: () => ({ retryable: true }),
    ...overrides,
  });
  const failing = (errors: unknown[], result = 'done') => {
    const calls: number[] = [];
    const fn = async (attempt: number) => {
      calls.push(attempt);
      if (calls.length <= errors.length) throw errors[calls.length - 1];
      return result;
    };
    return { fn, calls };
  };

  it('retries a transient failure and returns the later success', async () => {
    const { fn, calls } = failing([new Error('blip')]);
    await expect(retryWithBackoff(fn, settings())).resolves.toBe('done');
    expect(calls).toEqual([1, 2]);
  });

  it('stops after maxAttempts and rethrows the last failure unchanged', async () => {
    const errors = [new Error('1'), new Error('2'), new Error('3'), new Error('4')];
    const { fn, calls } = failing(errors);
    await expect(retryWithBackoff(fn, settings())).rejects.toBe(errors[2]);
    expect(calls).toEqual([1, 2, 3]);
  });

  it('never retries a failure classified as not retryable', async () => {
    const declined = new Error('declined');
    const { fn, calls } = failing([declined]);
    await expect(retryWithBackoff(fn, settings({ classify: () => ({ retryable: false }) }))).rejects.toBe(declined);
    expect(calls).toEqual([1]);
  });

  it('waits the backoff of backoff.policy.ts before each retry (full jitter by default)', async () => {
    const delays: number[] = [];
    const { fn } = failing([new Error('1'), new Error('2')]);
    await retryWithBackoff(
      fn,
      settings({ backoff: { baseMs: 40, capMs: 1_000 }, random: () => 0.5, onRetry: (i) => delays.push(i.delayMs) }),
    );
    expect(delays).toEqual([backoffDelayMs(1, { baseMs: 40, capMs: 1_000 }, () => 0.5), 40]);
    expect(delays[0]).toBe(20);
  });

  it("waits at least the server's Retry-After", async () => {
    const delays: number[] = [];
    const { fn } = failing([new Error('429')]);
    await retryWithBackoff(
      fn,
      settings({ classify: () => ({ retryable: true, retryAfterMs: 50 }), onRetry: (i) => delays.push(i.delayMs) }),
    );
    expect(delays).toEqual([50]);
  });

  it('gives up at once when Retry-After is longer than one call may wait', async () => {
    const tooLong = new Error('429');
    const { fn, calls } = failing([tooLong]);
    const started = Date.now();
    await expect(
      retryWithBackoff(fn, settings({ classify: () => ({ retryable: true, retryAfterMs: 60_000 }) })),
    ).rejects.toBe(tooLong);
    expect(calls).toEqual([1]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('starts no attempt that the deadline would not leave time for', async () => {
    const failure = new Error('5xx');
    const { fn, calls } = failing([failure]);
    const options = settings({
      deadline: Deadline.after(300),
      minAttemptMs: 100,
      backoff: { baseMs: 10_000, capMs: 10_000 },
      random: () => 0.5, // 5 s of backoff: cannot fit in what is left
    });
    await expect(retryWithBackoff(fn, options)).rejects.toBe(failure);
    expect(calls).toEqual([1]);
  });

  it('starts nothing when the budget is already below one attempt', async () => {
    const { fn, calls } = failing([]);
    await expect(
      retryWithBackoff(fn, settings({ deadline: Deadline.after(5), minAttemptMs: 50 })),
    ).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(calls).toEqual([]);
  });
});
