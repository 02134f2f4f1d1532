import { classifyPgFailure, isDatabaseUnavailable } from './pg.errors';

const pgError = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { code });
/** TypeORM's QueryFailedError keeps the pg error as driverError. */
const wrapped = (code: string) => Object.assign(new Error('query failed'), { driverError: pgError(code) });

describe('classifyPgFailure: SQLSTATE → what the caller gets', () => {
  it.each([
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock detected'],
    ['55P03', 'lock not available (lock_timeout)'],
    ['55006', 'object in use'],
    ['55000', 'object not in prerequisite state'],
    ['57P01', 'admin shutdown (backend terminated)'],
    ['57P02', 'crash shutdown'],
    ['57P03', 'cannot connect now (starting up)'],
    ['57P04', 'database dropped'],
    ['57000', 'operator intervention'],
    ['53300', 'too many connections'],
    ['53100', 'disk full'],
    ['53200', 'out of memory'],
    ['53400', 'configuration limit exceeded'],
    ['58000', 'system error'],
    ['58030', 'I/O error'],
    ['08000', 'connection exception'],
    ['08006', 'connection failure'],
    ['08001', 'unable to establish connection'],
  ])('%s (%s) is transient: 503 with Retry-After', (code) => {
    expect(classifyPgFailure(pgError(code))).toBe('transient');
    expect(classifyPgFailure(wrapped(code))).toBe('transient');
    expect(isDatabaseUnavailable(wrapped(code))).toBe(true);
  });

  it('57014 (statement_timeout) is a timeout: 504', () => {
    expect(classifyPgFailure(wrapped('57014'))).toBe('timeout');
  });

  it.each(['23505', '23503', '22P02', '22001', '42P01', '42703', '42601', '25P02', '0A000'])(
    '%s is permanent: a feature maps it or it is a bug (500)',
    (code) => {
      expect(classifyPgFailure(wrapped(code))).toBe('permanent');
      expect(isDatabaseUnavailable(wrapped(code))).toBe(false);
    },
  );

  it('treats broken sockets and node-postgres connection messages as transient, anything else as not a database error', () => {
    expect(classifyPgFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(
      'transient',
    );
    expect(classifyPgFailure(new Error('Connection terminated unexpectedly'))).toBe('transient');
    expect(classifyPgFailure(new Error('timeout exceeded when trying to connect'))).toBe('transient');
    expect(classifyPgFailure(new TypeError('x is not a function'))).toBeUndefined();
    expect(classifyPgFailure(undefined)).toBeUndefined();
  });
});
