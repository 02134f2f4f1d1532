import { parseTraceparent } from './trace-context.factory';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('parseTraceparent', () => {
  it.each([
    VALID,
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
    '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
  ])('keeps the valid %s', (value) => {
    expect(parseTraceparent(value)).toBe(value);
  });

  it.each([
    undefined,
    '',
    [VALID, VALID],
    VALID.toUpperCase(), // lower-case hex only
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // forbidden version
    `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, // all-zero trace id
    `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`, // all-zero parent id
    `${VALID}-extra`, // version 00 has exactly four fields
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // short trace id
    'not a traceparent',
    `01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-${'x'.repeat(500)}`,
  ])('ignores %j', (value) => {
    expect(parseTraceparent(value as string | undefined)).toBeUndefined();
  });
});
