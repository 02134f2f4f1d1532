import { parseRetryAfterMs } from './retry.policy';

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
