import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config/config.schemas';
import { startFakeProvider, type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { PaymentsProviderClient, type PaymentsClientSettings } from '../../src/payments/payments-provider.client';
import { classifyFailure, isRetryable } from '../../src/platform/adapters/failures/failure.classifier';
import { toProblem } from '../../src/platform/edge/http/problem.factory';
import { runWithCorrelation } from '../../src/platform/kernel/correlation/correlation.context';
import { Deadline } from '../../src/platform/kernel/resilience/deadline.policy';
import { FaultProxy } from '../support/fault-proxy.support';
import { startFakeProviderProcess, type FakeProviderProcess } from '../support/fake-provider.support';
import { freePort, pollUntil } from '../support/poll.support';

/**
 * PaymentsProviderClient against the repo's fake provider over real HTTP: one test per test
 * token, every outage mode, the breaker with the provider process really killed and
 * restarted, and the deadline. Every case that retries checks the provider's own charge
 * count: never charged twice. The caller-visible answer is asserted through toProblem(),
 * the function the HTTP error filter uses.
 */

/**
 * The problem (status, code, Retry-After) a caller would get for what the client threw, and
 * the platform's classification of it (the worker's retries and the metrics read that one).
 */
async function problemOf(call: Promise<unknown>) {
  const error = await call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  const problem = toProblem(error, { id: 'req-1', url: '/v1/orders', method: 'POST' });
  return {
    error: error as Record<string, unknown>,
    status: problem.body.status,
    code: problem.body.code,
    headers: problem.headers,
    body: problem.body,
    failure: classifyFailure(error),
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - started };
}

/** Defaults as shipped, tightened so faults show within a test's time. */
const SETTINGS: Omit<PaymentsClientSettings, 'baseUrl'> = {
  ...loadConfig({}).payments,
  timeoutMs: 400,
  deadlineMs: 4_000,
  maxAttempts: 3,
  backoffBaseMs: 20,
  backoffMaxMs: 100,
  retryAfterMaxMs: 1_500,
  minAttemptMs: 20,
  breakerFailures: 50,
  breakerHalfOpenMs: 1_000,
};

describe('payments provider client against the fake provider', () => {
  let provider: FakeProviderHandle;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    provider = await startFakeProvider({ slowTokenDelayMs: 3_000, log: (line) => logLines.push(line) });
  });
  afterAll(() => provider.close());
  afterEach(() => provider.setOutage({ mode: 'none' }));

  const client = (overrides: Partial<PaymentsClientSettings> = {}) =>
    new PaymentsProviderClient({ ...SETTINGS, baseUrl: provider.url, ...overrides });
  const order = (token: string) => ({ orderId: randomUUID(), amountCents: 1_999, currency: 'EUR', token });
  const keyOf = (orderId: string) => PaymentsProviderClient.idempotencyKeyFor(orderId);

  describe('one test per token (F13)', () => {
    it('tok_ok: returns the charge, made once under the order key', async () => {
      const request = order('tok_ok');
      const charge = await client().charge(request);
      expect(charge).toMatchObject({
        status: 'succeeded',
        amountCents: 1_999,
        currency: 'EUR',
        reference: request.orderId,
        idempotencyKey: `order-${request.orderId}`,
      });
      expect(provider.statsFor(keyOf(request.orderId))).toEqual({ requests: 1, charges: 1 });
    });

    it('tok_declined: 402 PAYMENT_DECLINED, not retried, nothing charged', async () => {
      const request = order('tok_declined');
      const { status, code, error, body, failure } = await problemOf(client().charge(request));
      expect({ status, code }).toEqual({ status: 402, code: 'PAYMENT_DECLINED' });
      expect(body.declineCode).toBe('card_declined');
      expect(error.chargeOutcome).toBe('not_charged');
      expect(failure).toEqual({
        dependency: 'payments',
        kind: 'rejected',
        transient: false,
        outcome: 'known',
        code: '402',
      });
      expect(isRetryable(failure, true)).toBe(false);
      expect(provider.statsFor(keyOf(request.orderId)).requests).toBe(1);
    });

    it('tok_invalid: 422 PAYMENT_METHOD_INVALID (the provider rejected our input), not retried', async () => {
      const request = order('tok_invalid');
      const { status, code, error } = await problemOf(client().charge(request));
      expect({ status, code }).toEqual({ status: 422, code: 'PAYMENT_METHOD_INVALID' });
      expect(error.chargeOutcome).toBe('not_charged');
      expect(provider.statsFor(keyOf(request.orderId))).toEqual({ requests: 1, charges: 0 });
    });

    it('tok_error: 502 PAYMENT_PROVIDER_ERROR after exactly maxAttempts attempts (F17)', async () => {
      const request = order('tok_error');
      const { status, code, error, body } = await problemOf(client().charge(request));
      expect({ status, code }).toEqual({ status: 502, code: 'PAYMENT_PROVIDER_ERROR' });
      expect(body.detail).not.toMatch(/500|internal|provider said/i);
      expect(error).toMatchObject({ reason: 'server_error', attempts: 3 });
      expect(classifyFailure(error)).toMatchObject({ dependency: 'payments', kind: 'unavailable', transient: true });
      expect(provider.statsFor(keyOf(request.orderId))).toEqual({ requests: 3, charges: 0 });
    });

    it('tok_flaky: the retry is invisible to the caller and charges once (F17)', async () => {
      const request = order('tok_flaky');
      await expect(client().charge(request)).resolves.toMatchObject({ status: 'succeeded' });
      expect(provider.statsFor(keyOf(request.orderId))).toEqual({ requests: 2, charges: 1 });
      expect(provider.chargesForReference(request.orderId)).toHaveLength(1);
    });

    it('tok_slow: 504 PAYMENT_PROVIDER_TIMEOUT, outcome unknown, charged once, and the lookup finds it (F12)', async () => {
      const request = order('tok_slow');
      const { status, code, error } = await problemOf(client().charge(request, { deadline: Deadline.after(1_500) }));
      expect({ status, code }).toEqual({ status: 504, code: 'PAYMENT_PROVIDER_TIMEOUT' });
      expect(error.chargeOutcome).toBe('unknown');
      expect(classifyFailure(error)).toMatchObject({ dependency: 'payments', kind: 'timeout', outcome: 'unknown' });
      expect(isRetryable(classifyFailure(error), false)).toBe(false); // only under the same idempotency key
      const stats = provider.statsFor(keyOf(request.orderId));
      expect(stats.requests).toBeGreaterThanOrEqual(2); // timed-out attempts were retried with the same key
      expect(stats.charges).toBe(1);
      expect(provider.chargesForReference(request.orderId)).toHaveLength(1);
      await expect(client().getCharge(keyOf(request.orderId))).resolves.toMatchObject({
        status: 'succeeded',
        charge: { reference: request.orderId },
      });
    });
  });

  describe('reconciliation lookup', () => {
    it('reports succeeded, failed and not found by idempotency key', async () => {
      const paid = order('tok_ok');
      const declined = order('tok_declined');
      await client().charge(paid);
      await client()
        .charge(declined)
        .catch(() => undefined);
      await expect(client().getCharge(keyOf(paid.orderId))).resolves.toMatchObject({ status: 'succeeded' });
      await expect(client().getCharge(keyOf(declined.orderId))).resolves.toMatchObject({
        status: 'failed',
        failureCode: 'card_declined',
      });
      await expect(client().getCharge(keyOf(randomUUID()))).resolves.toEqual({ status: 'not_found' });
    });
  });

  describe('outages', () => {
    it('provider down (connection refused): 503 DEPENDENCY_UNAVAILABLE with Retry-After, nothing charged', async () => {
      const nobody = `http://127.0.0.1:${await freePort()}`;
      const { result, ms } = await timed(() => problemOf(client({ baseUrl: nobody }).charge(order('tok_ok'))));
      expect({ status: result.status, code: result.code }).toEqual({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
      expect(Number(result.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(result.error).toMatchObject({ reason: 'connection_refused', chargeOutcome: 'not_charged' });
      expect(result.failure).toMatchObject({ dependency: 'payments', kind: 'unavailable', outcome: 'known' });
      expect(result.body.dependency).toBe('payments');
      expect(ms).toBeLessThan(2_000);
    });

    it('provider closing every connection: 502 after bounded retries', async () => {
      provider.setOutage({ mode: 'down' });
      const request = order('tok_ok');
      const { status, code, error } = await problemOf(client().charge(request));
      expect({ status, code }).toEqual({ status: 502, code: 'PAYMENT_PROVIDER_ERROR' });
      expect(error.reason).toBe('connection_lost');
      expect(provider.chargesForReference(request.orderId)).toHaveLength(0);
    });

    it('500s for a while: retried with backoff until it answers, charged once (F17)', async () => {
      provider.setOutage({ mode: 'error', times: 2 });
      const request = order('tok_ok');
      await expect(client().charge(request)).resolves.toMatchObject({ status: 'succeeded' });
      expect(provider.chargesForReference(request.orderId)).toHaveLength(1);
    });

    it('slow provider: each attempt times out, the caller gets 504 within its budget, charged once (F12)', async () => {
      provider.setOutage({ mode: 'slow', delayMs: 5_000 });
      const request = order('tok_ok');
      const { result, ms } = await timed(() =>
        problemOf(client().charge(request, { deadline: Deadline.after(2_000) })),
      );
      expect({ status: result.status, code: result.code }).toEqual({ status: 504, code: 'PAYMENT_PROVIDER_TIMEOUT' });
      expect(ms).toBeLessThan(3_000);
      const stats = provider.statsFor(keyOf(request.orderId));
      expect(stats.requests).toBeGreaterThanOrEqual(2);
      expect(stats.charges).toBe(1);
    });

    it('black-holed (accepts, never answers): 504 within the budget, nothing charged', async () => {
      const proxy = await FaultProxy.start(provider.url);
      try {
        proxy.setMode('hang');
        const request = order('tok_ok');
        const { result, ms } = await timed(() =>
          problemOf(client({ baseUrl: proxy.url(provider.url) }).charge(request, { deadline: Deadline.after(1_500) })),
        );
        expect({ status: result.status, code: result.code }).toEqual({ status: 504, code: 'PAYMENT_PROVIDER_TIMEOUT' });
        expect(ms).toBeLessThan(2_500);
        expect(provider.chargesForReference(request.orderId)).toHaveLength(0);
      } finally {
        await proxy.stop();
      }
    });

    it('connection reset mid-response: retried with the same key, the charge is not repeated', async () => {
      provider.setOutage({ mode: 'reset', times: 1 });
      const request = order('tok_ok');
      await expect(client().charge(request)).resolves.toMatchObject({ status: 'succeeded' });
      expect(provider.statsFor(keyOf(request.orderId))).toEqual({ requests: 2, charges: 1 });
    });

    it('429 with Retry-After: waits that long, then succeeds, charged once (F17)', async () => {
      provider.setOutage({ mode: 'rate-limited', retryAfterSeconds: 1, times: 1 });
      const request = order('tok_ok');
      const { result, ms } = await timed(() => client().charge(request));
      expect(result.status).toBe('succeeded');
      expect(ms).toBeGreaterThanOrEqual(950);
      expect(provider.chargesForReference(request.orderId)).toHaveLength(1);
    });

    it('429 with a Retry-After beyond what one call may wait: 503 at once, passing the wait on', async () => {
      provider.setOutage({ mode: 'rate-limited', retryAfterSeconds: 30 });
      const request = order('tok_ok');
      const { result, ms } = await timed(() => problemOf(client().charge(request)));
      expect({ status: result.status, code: result.code }).toEqual({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
      expect(result.headers['retry-after']).toBe('30');
      expect(result.error).toMatchObject({ reason: 'rate_limited', chargeOutcome: 'not_charged' });
      expect(ms).toBeLessThan(500);
      expect(provider.chargesForReference(request.orderId)).toHaveLength(0);
    });

    it.each([
      ['reset (connection destroyed mid-response)', 'reset', 'connection_lost'],
      ['truncated body (schema)', 'truncated', 'malformed_response'],
    ] as const)(
      '%s on every attempt: 502, never a 500, outcome unknown; the retries did not charge again',
      async (_name, mode, reason) => {
        provider.setOutage({ mode });
        const request = order('tok_ok');
        const { status, code, error, failure } = await problemOf(client().charge(request));
        expect({ status, code }).toEqual({ status: 502, code: 'PAYMENT_PROVIDER_ERROR' });
        expect(error).toMatchObject({ reason, chargeOutcome: 'unknown', attempts: 3 });
        expect(failure).toMatchObject({
          dependency: 'payments',
          kind: 'unavailable',
          transient: true,
          outcome: 'unknown',
        });
        expect(provider.statsFor(keyOf(request.orderId))).toEqual({ requests: 3, charges: 1 });
      },
    );

    it('malformed body (valid JSON, wrong shape): 502, one charge', async () => {
      provider.setOutage({ mode: 'malformed' });
      const request = order('tok_ok');
      const { status, error } = await problemOf(client().charge(request));
      expect(status).toBe(502);
      expect(error.reason).toBe('malformed_response');
      expect(provider.chargesForReference(request.orderId)).toHaveLength(1);
    });

    it('a truncated answer once: the retry replays the same charge', async () => {
      provider.setOutage({ mode: 'truncated', times: 1 });
      const request = order('tok_ok');
      await expect(client().charge(request)).resolves.toMatchObject({ reference: request.orderId });
      expect(provider.statsFor(keyOf(request.orderId))).toEqual({ requests: 2, charges: 1 });
    });
  });

  describe('deadline (F12)', () => {
    it('a 1 s budget against a slow provider answers 504 in about 1 s, even with a longer attempt timeout', async () => {
      const request = order('tok_slow');
      const { result, ms } = await timed(() =>
        problemOf(client({ timeoutMs: 5_000 }).charge(request, { deadline: Deadline.after(1_000) })),
      );
      expect(result.status).toBe(504);
      expect(ms).toBeGreaterThanOrEqual(950);
      expect(ms).toBeLessThan(1_800);
      expect(provider.chargesForReference(request.orderId)).toHaveLength(1);
    });

    it('a caller hanging up or its own budget running out mid-attempt is 504 DEADLINE_EXCEEDED, outcome unknown, and never opens the breaker', async () => {
      const breaker = client({ timeoutMs: 5_000, maxAttempts: 1, breakerFailures: 2 });
      provider.hold('charges'); // the provider has the charge and has not answered yet: slow, not faulty
      try {
        for (let i = 0; i < 3; i++) {
          const caller = new AbortController();
          const call = problemOf(breaker.charge(order('tok_ok'), { deadline: Deadline.after(4_000, caller.signal) }));
          await pollUntil(() => provider.heldCount('charges') === i + 1, { what: 'the charge to reach the provider' });
          caller.abort(new Error('client closed the connection'));
          const hungUp = await call;
          expect({ status: hungUp.status, code: hungUp.code }).toEqual({ status: 504, code: 'DEADLINE_EXCEEDED' });
          expect(hungUp.error).toMatchObject({ reason: 'caller_gone', chargeOutcome: 'unknown' });
        }
        for (let i = 0; i < 3; i++) {
          const spent = await problemOf(breaker.charge(order('tok_ok'), { deadline: Deadline.after(200) }));
          expect({ status: spent.status, code: spent.code }).toEqual({ status: 504, code: 'DEADLINE_EXCEEDED' });
          expect(spent.error).toMatchObject({ reason: 'request_deadline', chargeOutcome: 'unknown' });
        }
        expect(breaker.circuitState).toBe('closed');
        expect(breaker.unavailableNow()).toBeUndefined();
      } finally {
        provider.release('charges');
      }
      await expect(breaker.charge(order('tok_ok'))).resolves.toMatchObject({ status: 'succeeded' });
    });

    it('a caller hanging up during the half-open probe neither closes the breaker nor holds it open: the next call probes', async () => {
      const states: string[] = [];
      const breaker = new PaymentsProviderClient(
        {
          ...SETTINGS,
          baseUrl: provider.url,
          timeoutMs: 5_000,
          maxAttempts: 1,
          breakerFailures: 2,
          breakerHalfOpenMs: 300,
        },
        { onCircuitStateChange: (_dependency, state) => states.push(state) },
      );
      provider.setOutage({ mode: 'error', times: 2 });
      for (let i = 0; i < 2; i++) await breaker.charge(order('tok_ok')).catch(() => undefined);
      expect(breaker.circuitState).toBe('open');
      await pollUntil(() => breaker.unavailableNow() === undefined, { what: 'the probe to be due' });
      provider.hold('charges');
      try {
        const caller = new AbortController();
        const call = problemOf(breaker.charge(order('tok_ok'), { deadline: Deadline.after(4_000, caller.signal) }));
        await pollUntil(() => provider.heldCount('charges') === 1, { what: 'the probe to reach the provider' });
        caller.abort(new Error('client closed the connection'));
        expect((await call).error).toMatchObject({ reason: 'caller_gone' });

        // The provider said nothing: not closed (cockatiel alone would close it), and no new wait.
        expect(breaker.circuitState).toBe('open');
        expect(breaker.unavailableNow()).toBeUndefined();
      } finally {
        provider.release('charges');
      }
      await expect(breaker.charge(order('tok_ok'))).resolves.toMatchObject({ status: 'succeeded' });
      expect(breaker.circuitState).toBe('closed');
      expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
    });

    it('starts nothing when the budget is already spent: 504 DEADLINE_EXCEEDED, no request sent', async () => {
      const request = order('tok_ok');
      const { status, code } = await problemOf(client().charge(request, { deadline: Deadline.after(5) }));
      expect({ status, code }).toEqual({ status: 504, code: 'DEADLINE_EXCEEDED' });
      expect(provider.statsFor(keyOf(request.orderId)).requests).toBe(0);
    });
  });

  it('sends our X-Request-Id on every attempt', async () => {
    const request = order('tok_flaky');
    const requestId = `req-${randomUUID()}`;
    await client().charge(request, { requestId });
    const seen = logLines.filter((line) => line.idempotencyKey === keyOf(request.orderId));
    expect(seen).toHaveLength(2);
    expect(seen.map((line) => line.requestId)).toEqual([requestId, requestId]);
  });

  it('passes the current request id and traceparent on to every attempt (F15)', async () => {
    const request = order('tok_flaky');
    const correlation = {
      requestId: `req-${randomUUID()}`,
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    };
    await runWithCorrelation(correlation, () => client().charge(request));
    const seen = logLines.filter((line) => line.idempotencyKey === keyOf(request.orderId));
    expect(seen.map(({ requestId, traceparent }) => ({ requestId, traceparent }))).toEqual([correlation, correlation]);
  });
});

describe('payments circuit breaker with the provider process killed and restarted (F26)', () => {
  let provider: FakeProviderProcess | undefined;
  let port: number;
  afterAll(() => provider?.kill());

  it('opens after the configured failures, answers fast while open, probes back and closes', async () => {
    port = await freePort();
    provider = await startFakeProviderProcess(port);
    const states: string[] = [];
    const client = new PaymentsProviderClient(
      { ...SETTINGS, baseUrl: provider.url, maxAttempts: 1, breakerFailures: 3, breakerHalfOpenMs: 1_500 },
      { onCircuitStateChange: (_dependency, state) => states.push(state) },
    );
    const charge = () => client.charge({ orderId: randomUUID(), amountCents: 500, currency: 'EUR', token: 'tok_ok' });
    await expect(charge()).resolves.toMatchObject({ status: 'succeeded' });

    await provider.kill();
    for (let i = 0; i < 3; i++) {
      const { error } = await problemOf(charge());
      expect(error.reason).toBe('connection_refused');
    }
    expect(client.circuitState).toBe('open');

    const { result, ms } = await timed(() => problemOf(charge()));
    expect({ status: result.status, code: result.code }).toEqual({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
    expect(result.error.reason).toBe('circuit_open');
    expect(result.failure).toMatchObject({ dependency: 'payments', kind: 'unavailable', code: 'circuit_open' });
    expect(Number(result.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(result.headers['retry-after'])).toBeLessThanOrEqual(2);
    expect(ms).toBeLessThan(250); // no network at all: typically well under 5 ms

    // Still down when the breaker half-opens: the probe fails and the circuit opens again.
    const probe = await pollUntil(
      async () => {
        const { error } = await problemOf(charge());
        return error.reason === 'connection_refused' ? error : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 100, what: 'the breaker to let a probe through' },
    );
    expect(probe.reason).toBe('connection_refused');
    expect(client.circuitState).toBe('open');

    provider = await startFakeProviderProcess(port);
    const orderId = randomUUID();
    await pollUntil(
      () =>
        client
          .charge({ orderId, amountCents: 500, currency: 'EUR', token: 'tok_ok' })
          .then((c) => c.status === 'succeeded')
          .catch(() => false),
      { timeoutMs: 5_000, intervalMs: 100, what: 'the breaker to close after the provider came back' },
    );
    expect(client.circuitState).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
    expect(await provider.statsFor(PaymentsProviderClient.idempotencyKeyFor(orderId))).toEqual({
      requests: 1,
      charges: 1,
    });
  });
});
