import { parseTraceparent } from './trace-context.factory';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('parseTraceparent', () => {
  it.each([VALID, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00'])('keeps the valid %s', (value) => {
    expect(parseTraceparent(value)).toBe(value);
  });

  it.each([
    ['01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', VALID],
    ['cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', VALID],
    [`01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-${'x'.repeat(450)}`, VALID],
    ['7f-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-0a-{"inject":"me"}', VALID.replace(/01$/, '09')],
  ])('reads a later version %j as its known fields, passed on as version 00 (W3C versioning)', (value, expected) => {
    expect(parseTraceparent(value)).toBe(expected);
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
    '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x', // a later version: flags followed by neither end nor dash
    '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7', // a later version without flags
    `01-${'0'.repeat(32)}-00f067aa0ba902b7-01-extra`, // all-zero trace id in any version
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // short trace id
    'not a traceparent',
  ])('ignores %j', (value) => {
    expect(parseTraceparent(value as string | undefined)).toBeUndefined();
  });
});
