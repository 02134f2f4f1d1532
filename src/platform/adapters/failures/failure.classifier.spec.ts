import { DatabaseError } from 'pg';
import { CommitOutcomeUnknownError } from './pg.errors';
import { classifyFailure, isRetryable, type Failure } from './failure.classifier';

const pgError = (code: string) => Object.assign(new DatabaseError('server said no', 0, 'error'), { code });
const typeormError = (code: string) => ({ message: 'query failed', driverError: { code } });
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });

describe('classifyFailure', () => {
  it.each([
    ['40001', 'unavailable', true],
    ['40P01', 'unavailable', true],
    ['55P03', 'unavailable', true],
    ['57P01', 'unavailable', true],
    ['57P02', 'unavailable', true],
    ['57P03', 'unavailable', true],
    ['53300', 'unavailable', true],
    ['08000', 'unavailable', true],
    ['08001', 'unavailable', true],
    ['08006', 'unavailable', true],
    ['08P01', 'unavailable', true],
    // Issue 5, defect 2: the rest of classes 53, 55, 57 and 58 describe the server's state, not the request.
    ['53100', 'unavailable', false],
    ['53200', 'unavailable', false],
    ['53400', 'unavailable', false],
    ['55000', 'unavailable', false],
    ['55006', 'unavailable', false],
    ['57000', 'unavailable', false],
    ['57P04', 'unavailable', false],
    ['58000', 'unavailable', false],
    ['58030', 'unavailable', false],
    ['57014', 'timeout', false],
    ['23505', 'rejected', false],
    ['23503', 'rejected', false],
    ['22P02', 'rejected', false],
    ['22001', 'rejected', false],
    ['42P01', 'rejected', false],
    ['42703', 'rejected', false],
    ['42601', 'rejected', false],
    ['25P02', 'rejected', false],
    ['0A000', 'rejected', false],
  ])('Postgres SQLSTATE %s is %s (transient: %s)', (code, kind, transient) => {
    const expected: Failure = {
      dependency: 'database',
      kind: kind as Failure['kind'],
      transient,
      outcome: 'known',
      code,
    };
    expect(classifyFailure(pgError(code))).toEqual(expected);
    expect(classifyFailure(typeormError(code))).toEqual(expected);
  });

  it('knows a connection refused never ran the statement, and a reset may have', () => {
    expect(classifyFailure(socketError('ECONNREFUSED'))).toMatchObject({ transient: true, outcome: 'known' });
    expect(classifyFailure(socketError('ECONNRESET'))).toMatchObject({ transient: true, outcome: 'unknown' });
    expect(classifyFailure(new Error('Connection terminated unexpectedly'))).toMatchObject({
      kind: 'unavailable',
      outcome: 'unknown',
    });
    expect(classifyFailure(new Error('Connection terminated due to connection timeout'))).toMatchObject({
      kind: 'unavailable',
      transient: true,
      outcome: 'known',
    });
  });

  it('answers pool exhaustion with a 503 that is never retried, and a client-side read timeout with a 504', () => {
    expect(classifyFailure(new Error('timeout exceeded when trying to connect'))).toEqual({
      dependency: 'database',
      kind: 'unavailable',
      transient: false,
      outcome: 'known',
      code: 'pool_exhausted',
    });
    expect(classifyFailure(new Error('Query read timeout'))).toEqual({
      dependency: 'database',
      kind: 'timeout',
      transient: false,
      outcome: 'unknown',
      code: 'client_timeout',
    });
  });

  it('answers a saturated PgBouncer (its FATAL 08P01 query_wait_timeout) with a 503 that is never retried, unlike other 08 errors', () => {
    const pooler = (message: string) =>
      Object.assign(new DatabaseError(message, 0, 'error'), { code: '08P01', severity: 'FATAL' });
    for (const message of ['query_wait_timeout', 'no more connections allowed (max_client_conn)'])
      expect(classifyFailure(pooler(message))).toEqual({
        dependency: 'database',
        kind: 'unavailable',
        transient: false,
        outcome: 'known',
        code: 'pooler_busy',
      });
    // Another protocol-level failure stays a transient connection exception.
    expect(classifyFailure(pooler('server conn crashed?'))).toMatchObject({ transient: true, code: '08P01' });
  });

  it('marks a COMMIT that lost its connection as outcome unknown, so only idempotent work may repeat it', () => {
    const failure = classifyFailure(new CommitOutcomeUnknownError(new Error('Connection terminated')));
    expect(failure).toMatchObject({ dependency: 'database', outcome: 'unknown' });
    expect(isRetryable(failure, false)).toBe(false);
  });

  it('classifies ioredis failures', () => {
    expect(classifyFailure(new Error('Command timed out'))).toMatchObject({ dependency: 'redis', kind: 'timeout' });
    expect(classifyFailure(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toMatchObject({
      dependency: 'redis',
      kind: 'unavailable',
      outcome: 'known',
    });
    const reply = Object.assign(new Error('LOADING Redis is loading the dataset in memory'), { name: 'ReplyError' });
    expect(classifyFailure(reply)).toMatchObject({ dependency: 'redis', kind: 'unavailable', transient: true });
    const wrongType = Object.assign(new Error('WRONGTYPE Operation against a key'), { name: 'ReplyError' });
    expect(classifyFailure(wrongType)).toMatchObject({ dependency: 'redis', kind: 'rejected', transient: false });
  });

  it('classifies a Redis Cluster without a slot table or in a failover as unavailable, and CROSSSLOT as a bug', () => {
    expect(classifyFailure(new Error("Cluster isn't ready and enableOfflineQueue options is false"))).toMatchObject({
      dependency: 'redis',
      kind: 'unavailable',
      outcome: 'known',
      code: 'cluster_not_ready',
    });
    const redirected = new Error('Too many Cluster redirections. Last error: MOVED 3999 127.0.0.1:7001');
    expect(classifyFailure(redirected)).toMatchObject({ kind: 'unavailable', outcome: 'unknown', transient: true });
    const crossSlot = Object.assign(new Error("CROSSSLOT Keys in request don't hash to the same slot"), {
      name: 'ReplyError',
    });
    expect(classifyFailure(crossSlot)).toMatchObject({ kind: 'rejected', transient: false, code: 'CROSSSLOT' });
  });

  it('takes the classification an outbound client attached to its error', () => {
    const failure: Failure = { dependency: 'payments', kind: 'timeout', transient: true, outcome: 'unknown' };
    expect(classifyFailure(Object.assign(new Error('provider timed out'), { failure }))).toBe(failure);
  });

  it.each([
    ['a plain Error', new Error('boom')],
    ['a 5-letter errno that is not a SQLSTATE', socketError('EPERM')],
    ['undefined', undefined],
    ['a string', 'boom'],
  ])('says nothing about %s (not a dependency failure)', (_label, error) => {
    expect(classifyFailure(error)).toBeUndefined();
  });

  it('retries transient failures of idempotent work, and of any work known not to have run', () => {
    const reset = classifyFailure(socketError('ECONNRESET'));
    expect(isRetryable(reset, true)).toBe(true);
    expect(isRetryable(reset, false)).toBe(false);
    expect(isRetryable(classifyFailure(pgError('40001')), false)).toBe(true);
    expect(isRetryable(classifyFailure(pgError('57014')), true)).toBe(false);
  });
});
