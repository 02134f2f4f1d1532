import { CircuitBreaker, CircuitOpenError, type CircuitStateName } from './circuit.breaker';

class Fault extends Error {}
/** The caller hung up (or its own budget ran out): says nothing about the dependency. */
class Interrupted extends Error {}

describe('CircuitBreaker', () => {
  const start = Date.parse('2026-11-24T12:00:00Z');
  let states: CircuitStateName[];
  let breaker: CircuitBreaker;
  const fail = () => breaker.execute(() => Promise.reject(new Fault('down')));

  beforeEach(() => {
    jest.useFakeTimers({ now: start, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    states = [];
    breaker = new CircuitBreaker({
      dependency: 'provider',
      consecutiveFailures: 3,
      halfOpenAfterMs: 10_000,
      isFailure: (error) => error instanceof Fault,
      isInconclusive: (error) => error instanceof Interrupted,
      onStateChange: (state) => states.push(state),
    });
  });
  afterEach(() => jest.useRealTimers());

  it('opens after the configured consecutive failures and then fails fast without calling', async () => {
    for (let i = 0; i < 3; i++) await expect(fail()).rejects.toBeInstanceOf(Fault);
    expect(breaker.state).toBe('open');
    const fn = jest.fn(() => Promise.resolve('x'));
    const error = await breaker.execute(fn).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ dependency: 'provider', retryAfterSeconds: 10 });
    expect(fn).not.toHaveBeenCalled();
  });

  it('reports the seconds until the next probe, rounded up, at least 1', async () => {
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    jest.setSystemTime(start + 7_200);
    expect(breaker.retryAfterSeconds()).toBe(3);
    jest.setSystemTime(start + 9_999);
    expect(breaker.retryAfterSeconds()).toBe(1);
  });

  it('rejectsNow() is true only while open with no probe due, so checking first never starves the probe', async () => {
    expect(breaker.rejectsNow()).toBe(false);
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    expect(breaker.rejectsNow()).toBe(true);
    jest.setSystemTime(start + 10_001);
    expect(breaker.state).toBe('open'); // cockatiel half-opens on the next call only
    expect(breaker.rejectsNow()).toBe(false);
  });

  it('does not count failures that say nothing about the dependency (a declined card)', async () => {
    for (let i = 0; i < 10; i++) {
      await expect(breaker.execute(() => Promise.reject(new Error('declined')))).rejects.toThrow('declined');
    }
    expect(breaker.state).toBe('closed');
  });

  it('lets one probe through after halfOpenAfterMs and closes when it succeeds', async () => {
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    jest.setSystemTime(start + 10_001);
    await expect(breaker.execute(() => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('re-opens when the probe fails', async () => {
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    jest.setSystemTime(start + 10_001);
    await expect(fail()).rejects.toBeInstanceOf(Fault);
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterSeconds()).toBe(10);
  });

  it('an interrupted call never counts, closed or half-open: an interrupted probe leaves the circuit open with the probe due at once', async () => {
    for (let i = 0; i < 10; i++) {
      await expect(breaker.execute(() => Promise.reject(new Interrupted('gone')))).rejects.toBeInstanceOf(Interrupted);
    }
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    jest.setSystemTime(start + 10_001);

    // The probe's caller hangs up: the dependency said nothing, so the circuit must not close.
    await expect(breaker.execute(() => Promise.reject(new Interrupted('gone')))).rejects.toBeInstanceOf(Interrupted);

    expect(breaker.state).toBe('open');
    expect(breaker.rejectsNow()).toBe(false);
    // The next call is the probe, at once (no second halfOpenAfterMs), and decides as any probe does.
    await expect(fail()).rejects.toBeInstanceOf(Fault);
    expect(breaker.state).toBe('open');
    expect(breaker.rejectsNow()).toBe(true);
    expect(breaker.retryAfterSeconds()).toBe(10);
    jest.setSystemTime(start + 20_002);
    await expect(breaker.execute(() => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'open', 'half-open', 'closed']);
  });
});
