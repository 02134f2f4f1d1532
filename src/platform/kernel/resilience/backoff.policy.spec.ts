import { BOOT_BACKOFF, RECONNECT_BACKOFF, backoffDelayMs, sleep } from './backoff.policy';

describe('backoff with full jitter', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    const highest = (attempt: number) => backoffDelayMs(attempt, RECONNECT_BACKOFF, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 6, 7, 10].map(highest)).toEqual([99, 199, 399, 799, 1_599, 3_199, 4_999, 4_999]);
  });

  it('full jitter spreads delays over the whole range, down to zero', () => {
    expect(backoffDelayMs(3, RECONNECT_BACKOFF, () => 0)).toBe(0);
    expect(backoffDelayMs(3, RECONNECT_BACKOFF, () => 0.5)).toBe(200);
    const delays = Array.from({ length: 200 }, () => backoffDelayMs(4, RECONNECT_BACKOFF));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(800);
    expect(new Set(delays).size).toBeGreaterThan(50);
  });

  it('equal jitter keeps every wait in the upper half, so each is longer than the one before', () => {
    expect(backoffDelayMs(1, BOOT_BACKOFF, () => 0)).toBe(125);
    expect(backoffDelayMs(1, BOOT_BACKOFF, () => 0.999_999)).toBe(249);
    expect(backoffDelayMs(2, BOOT_BACKOFF, () => 0)).toBe(250);
    for (let attempt = 1; attempt < 5; attempt++) {
      const longest = backoffDelayMs(attempt, BOOT_BACKOFF, () => 0.999_999);
      expect(backoffDelayMs(attempt + 1, BOOT_BACKOFF, () => 0)).toBeGreaterThan(longest);
    }
  });

  it('never overflows on huge attempt numbers', () => {
    expect(backoffDelayMs(10_000, RECONNECT_BACKOFF, () => 0.999)).toBeLessThan(RECONNECT_BACKOFF.capMs);
    expect(backoffDelayMs(10_000, BOOT_BACKOFF, () => 0.999)).toBeLessThan(BOOT_BACKOFF.capMs);
  });

  it('sleep stops early when its signal aborts', async () => {
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    controller.abort(new Error('deadline passed'));
    await expect(waiting).rejects.toThrow('deadline passed');
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
