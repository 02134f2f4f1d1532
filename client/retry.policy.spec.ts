import fc from 'fast-check';
import {
  DEFAULT_RETRY_POLICY,
  backoffMs,
  decideRetry,
  parseRetryAfter,
  type AttemptOutcome,
  type RetryPolicy,
} from './retry.policy.js';

const METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'];
const RETRYABLE = new Set([408, 429, 502, 503, 504]);
const NEVER = [400, 401, 403, 404, 409, 410, 413, 415, 422, 500];

const policyArb: fc.Arbitrary<RetryPolicy> = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 8 }),
  deadlineMs: fc.integer({ min: 100, max: 60_000 }),
  baseDelayMs: fc.integer({ min: 1, max: 2_000 }),
  maxDelayMs: fc.integer({ min: 1, max: 20_000 }),
  maxRetryAfterMs: fc.integer({ min: 0, max: 30_000 }),
  minAttemptMs: fc.integer({ min: 0, max: 1_000 }),
});

const outcomeArb: fc.Arbitrary<AttemptOutcome> = fc.record(
  {
    method: fc.constantFrom(...METHODS),
    keyed: fc.boolean(),
    status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
    code: fc.option(fc.constantFrom('IDEMPOTENCY_KEY_IN_USE', 'OUT_OF_STOCK', 'EMAIL_TAKEN', 'RATE_LIMITED'), {
      nil: undefined,
    }),
    retryAfterMs: fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
    attempt: fc.integer({ min: 1, max: 10 }),
    elapsedMs: fc.integer({ min: 0, max: 70_000 }),
  },
  { requiredKeys: ['method', 'keyed', 'attempt', 'elapsedMs'] },
);

const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }).map((r) => () => r);

describe('the client retry decision (a property over methods, statuses, codes, headers and timing)', () => {
  it('retries only a safe or keyed call, only a transient failure, within the attempt cap and the deadline', () => {
    fc.assert(
      fc.property(outcomeArb, policyArb, randomArb, (outcome, policy, random) => {
        const decision = decideRetry(outcome, policy, random);
        if (!decision.retry) return;
        const { status, code, method, keyed } = outcome;
        // Safe to repeat: a safe method, or a call the server deduplicates by its key.
        expect(['GET', 'HEAD', 'OPTIONS'].includes(method) || keyed).toBe(true);
        // May pass: no answer, a transient status, or a 409 that says the first call is still running.
        expect(
          status === undefined || RETRYABLE.has(status) || (status === 409 && code === 'IDEMPOTENCY_KEY_IN_USE'),
        ).toBe(true);
        expect(outcome.attempt).toBeLessThan(policy.maxAttempts);
        // Never waits past the deadline, and leaves the next attempt its minimum time.
        expect(outcome.elapsedMs + decision.delayMs + policy.minAttemptMs).toBeLessThanOrEqual(policy.deadlineMs);
        // Never sooner than the server asked (up to the clamp), never longer than the larger of the two caps.
        if (outcome.retryAfterMs !== undefined) {
          expect(decision.delayMs).toBeGreaterThanOrEqual(Math.min(outcome.retryAfterMs, policy.maxRetryAfterMs));
        }
        expect(decision.delayMs).toBeLessThanOrEqual(Math.max(policy.maxDelayMs, policy.maxRetryAfterMs));
        expect(decision.delayMs).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never retries 400, 401, 403, 404, 409 (other than a key in flight), 410, 422 or 500, whatever the method, key or hint', () => {
    fc.assert(
      fc.property(outcomeArb, fc.constantFrom(...NEVER), policyArb, (outcome, status, policy) => {
        const code = status === 409 ? 'OUT_OF_STOCK' : outcome.code;
        const decision = decideRetry({ ...outcome, status, code }, policy);
        expect(decision).toEqual({ retry: false, reason: 'final-status' });
      }),
    );
  });

  it('retries every safe or keyed call on a transient failure while attempts and time remain', () => {
    const roomy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 5, deadlineMs: 600_000 };
    fc.assert(
      fc.property(
        fc.constantFrom(undefined, 408, 429, 502, 503, 504),
        fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'POST'),
        fc.integer({ min: 1, max: 4 }),
        (status, method, attempt) => {
          const keyed = method === 'POST';
          expect(decideRetry({ method, keyed, status, attempt, elapsedMs: 0 }, roomy).retry).toBe(true);
          if (method === 'POST') {
            expect(decideRetry({ method, keyed: false, status, attempt, elapsedMs: 0 }, roomy)).toEqual({
              retry: false,
              reason: 'not-safe',
            });
          }
        },
      ),
    );
  });

  it('waits out a 409 IDEMPOTENCY_KEY_IN_USE on a keyed POST', () => {
    const decision = decideRetry(
      {
        method: 'POST',
        keyed: true,
        status: 409,
        code: 'IDEMPOTENCY_KEY_IN_USE',
        retryAfterMs: 1_000,
        attempt: 1,
        elapsedMs: 0,
      },
      DEFAULT_RETRY_POLICY,
    );
    expect(decision).toEqual({ retry: true, delayMs: expect.any(Number) });
    expect((decision as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(1_000);
  });

  it('gives up at once when the wait the server asks for would pass the deadline (the next attempt is not made)', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, deadlineMs: 3_000 };
    expect(
      decideRetry({ method: 'GET', keyed: false, status: 503, retryAfterMs: 7_000, attempt: 1, elapsedMs: 50 }, policy),
    ).toEqual({
      retry: false,
      reason: 'deadline',
    });
  });

  it('backs off exponentially with full jitter under a cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), policyArb, randomArb, (attempt, policy, random) => {
        const ms = backoffMs(attempt, policy, random);
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThanOrEqual(Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)));
      }),
    );
    // Full jitter: the whole range from 0 to the ceiling is used.
    expect(backoffMs(3, DEFAULT_RETRY_POLICY, () => 0)).toBe(0);
    expect(backoffMs(3, DEFAULT_RETRY_POLICY, () => 0.999_999)).toBe(799);
    expect(backoffMs(30, DEFAULT_RETRY_POLICY, () => 0.999_999)).toBe(DEFAULT_RETRY_POLICY.maxDelayMs - 1);
  });
});

describe('Retry-After as the client reads it', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  const read = (value: Record<string, string>) => parseRetryAfter(new Headers(value), now);

  it('reads delay-seconds, an HTTP-date and retry-after-ms, and ignores anything else', () => {
    expect(read({ 'retry-after': '1' })).toBe(1_000);
    expect(read({ 'retry-after': ' 120 ' })).toBe(120_000);
    expect(read({ 'retry-after': 'Sun, 06 Dec 2026 12:00:05 GMT' })).toBe(5_000);
    expect(read({ 'retry-after': 'Sun, 06 Dec 2026 11:00:00 GMT' })).toBe(0);
    expect(read({ 'retry-after': '2', 'retry-after-ms': '1500' })).toBe(1_500);
    for (const junk of ['-1', '1.5', 'soon', '', 'Sun, 06 Dec 2026 12:00:05']) {
      expect(read({ 'retry-after': junk })).toBeUndefined();
    }
    expect(read({})).toBeUndefined();
  });

  it('never yields a negative or non-integer wait for any header value', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.nat().map(String),
          fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
        ),
        (value) => {
          let headers: Headers;
          try {
            headers = new Headers({ 'retry-after': value });
          } catch {
            return; // not a valid header value at all
          }
          const ms = parseRetryAfter(headers, now);
          if (ms !== undefined) {
            expect(Number.isInteger(ms)).toBe(true);
            expect(ms).toBeGreaterThanOrEqual(0);
          }
        },
      ),
    );
  });
});
