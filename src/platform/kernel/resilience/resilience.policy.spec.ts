import { backoffDelayMs } from './backoff.policy';
import { CircuitOpenError } from './circuit.breaker';
import { Deadline, DeadlineExceededError, WorkDeadline } from './deadline.policy';
import { definePipeline, type WorkContext } from './resilience.policy';
import { RetryBudget } from './retry.budget';
import type { RetryDecision, RetryInfo } from './retry.policy';

/** The settings of the former `retryWithBackoff(fn, options)`, whose tests these are. */
interface RetryOptions {
  deadline: Deadline;
  maxAttempts: number;
  backoff: { baseMs: number; capMs: number };
  maxRetryAfterMs: number;
  minAttemptMs: number;
  classify: (error: unknown) => RetryDecision;
  onRetry?: (info: RetryInfo) => void;
  random?: () => number;
}

const retryWithBackoff = <T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> =>
  definePipeline({
    name: 'test',
    classify: options.classify,
    retry: {
      attempts: options.maxAttempts,
      backoff: options.backoff,
      maxRetryAfterMs: options.maxRetryAfterMs,
      minAttemptMs: options.minAttemptMs,
    },
    onRetry: options.onRetry,
    random: options.random,
  }).execute((attempt) => fn(attempt.number), { deadline: options.deadline });

describe('the retry of a pipeline (retry.policy.ts, run through definePipeline().execute)', () => {
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

describe('definePipeline', () => {
  const transient = new Error('transient');
  const base = {
    name: 'dep',
    classify: (): RetryDecision => ({ retryable: true }),
    retry: { attempts: 3, backoff: { baseMs: 1, capMs: 2 }, minAttemptMs: 1 },
  };
  const alwaysFailing = () => {
    let calls = 0;
    const fn = async () => {
      calls++;
      throw transient;
    };
    return { fn, calls: () => calls };
  };

  it('makes one attempt when the request context says an outer layer retries the work', async () => {
    let context: WorkContext = { retriedOutside: true };
    const pipeline = definePipeline({ ...base, context: () => context });
    const once = alwaysFailing();
    await expect(pipeline.execute(once.fn)).rejects.toBe(transient);
    expect(once.calls()).toBe(1);
    context = {};
    const retried = alwaysFailing();
    await expect(pipeline.execute(retried.fn)).rejects.toBe(transient);
    expect(retried.calls()).toBe(3);
  });

  it('stops retrying when the shared budget is spent, and says so', async () => {
    const refused: RetryDecision[] = [];
    const budget = new RetryBudget({ ratio: 0, capacity: 1 });
    const pipeline = definePipeline({
      ...base,
      retry: { ...base.retry, budget },
      onRetryRefused: (decision) => refused.push(decision),
    });
    const first = alwaysFailing();
    await expect(pipeline.execute(first.fn)).rejects.toBe(transient);
    expect(first.calls()).toBe(2); // the one token
    const second = alwaysFailing();
    await expect(pipeline.execute(second.fn)).rejects.toBe(transient);
    expect(second.calls()).toBe(1);
    expect(refused).toHaveLength(2);
  });

  it('opens its breaker after consecutive failures and then fails fast without calling', async () => {
    const pipeline = definePipeline({
      ...base,
      retry: { ...base.retry, attempts: 1 },
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000, isFailure: () => true },
    });
    const failing = alwaysFailing();
    for (let i = 0; i < 2; i++) await expect(pipeline.execute(failing.fn)).rejects.toBe(transient);
    await expect(pipeline.execute(failing.fn)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(failing.calls()).toBe(2);
    expect(pipeline.breaker?.state).toBe('open');
  });

  it("gives each attempt its own timeout within the deadline, and tells the attempt's timeout from the deadline", async () => {
    const pipeline = definePipeline({ ...base, retry: { ...base.retry, attempts: 1 }, attemptTimeoutMs: 20 });
    const causes: unknown[] = [];
    const hang = (attempt: { signal: AbortSignal; abortCause(): unknown }) =>
      new Promise<never>((_, reject) =>
        attempt.signal.addEventListener('abort', () => {
          causes.push(attempt.abortCause());
          reject(new Error('aborted'));
        }),
      );
    await expect(pipeline.execute(hang, { deadline: Deadline.after(5_000) })).rejects.toThrow('aborted');
    await expect(pipeline.execute(hang, { deadline: Deadline.after(5) })).rejects.toThrow();
    expect(causes[0]).toBe('attempt_timeout');
  });

  it('takes its budget from the request context, capped by deadlineMs', async () => {
    const spent = new WorkDeadline(Date.now() - 1);
    const pipeline = definePipeline({ ...base, context: () => ({ deadline: spent }), deadlineMs: 1_000 });
    const never = alwaysFailing();
    await expect(pipeline.execute(never.fn)).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(never.calls()).toBe(0);
  });
});
