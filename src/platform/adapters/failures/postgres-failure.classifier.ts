import { DatabaseError } from 'pg';
import type { Failure } from '../../kernel/errors/failure.types';
import { CommitOutcomeUnknownError, PG, sqlStateOf } from './pg.errors';

/**
 * SQLSTATEs where repeating the same work can succeed (the retry policy's set):
 * serialization failure, deadlock, lock timeout, admin/crash shutdown, cannot connect
 * now, too many connections; plus the whole connection-exception class 08.
 */
const TRANSIENT_SQLSTATES = new Set<string>([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  PG.LOCK_NOT_AVAILABLE,
  PG.ADMIN_SHUTDOWN,
  PG.CRASH_SHUTDOWN,
  PG.CANNOT_CONNECT_NOW,
  PG.TOO_MANY_CONNECTIONS,
]);

/**
 * Classes that mean the server cannot do any work right now (insufficient resources,
 * object not in prerequisite state, operator intervention, system error, connection):
 * an outage for the caller (503), never a bug (500). Only TRANSIENT_SQLSTATES are retried.
 */
const UNAVAILABLE_CLASSES = new Set(['08', '53', '55', '57', '58']);

/** Socket errors of a connection that never reached the server: nothing ran. */
const NOT_SENT_ERRNOS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Socket errors of a connection that broke mid-flight: the statement may have run. */
const BROKEN_ERRNOS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/** node-postgres reports these without a code. Opening a connection failed: nothing was sent. */
const NOT_SENT_MESSAGES = [
  'Connection terminated due to connection timeout',
  'Connection timeout',
  'Client has encountered a connection error and is not queryable',
];
const BROKEN_MESSAGES = ['Connection terminated', 'Client has encountered a connection error'];
/**
 * pg-pool's answer when every connection stayed busy for the whole acquire timeout
 * (`DB_ACQUIRE_TIMEOUT_MS`; opening a new connection fails with another message). An
 * overload, not a blip: a 503 at once, never retried (retrying would queue more waiters).
 */
const POOL_EXHAUSTED_MESSAGE = 'timeout exceeded when trying to connect';
/** pg's own `query_timeout` fired: the server did not answer a margin after statement_timeout (a silent network). */
const CLIENT_TIMEOUT_MESSAGE = 'Query read timeout';

/**
 * PgBouncer's own errors (SQLSTATE 08P01, FATAL, the client connection closed after them), by
 * message. `query_wait_timeout`: the client waited in the pooler's queue for a server connection
 * for the whole `query_wait_timeout` (every server connection busy, or none can be opened): like
 * a full pool, an overload answered 503 at once and never retried here (a retry queues again).
 * `no more connections allowed`: the pooler's `max_client_conn` is reached.
 */
const POOLER_BUSY_MESSAGES = ['query_wait_timeout', 'no more connections allowed'];

/** A full pool of ours, or a saturated pooler in front of Postgres: busy, which is not down. */
export function isPoolerBusy(error: unknown): boolean {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  if (typeof message !== 'string') return false;
  return message === POOL_EXHAUSTED_MESSAGE || POOLER_BUSY_MESSAGES.some((m) => message.startsWith(m));
}

/** A SQLSTATE the server sent (not an errno a socket raised). */
function serverSqlState(error: unknown): string | undefined {
  const e = error as { driverError?: unknown; severity?: unknown } | null | undefined;
  const fromServer = error instanceof DatabaseError || e?.driverError !== undefined || typeof e?.severity === 'string';
  const state = sqlStateOf(error);
  return fromServer && state !== undefined && /^[0-9A-Z]{5}$/.test(state) ? state : undefined;
}

/** Classifies a Postgres (pg or TypeORM-wrapped) failure; `undefined` when it is not one. */
export function classifyPostgresFailure(error: unknown): Failure | undefined {
  const base = { dependency: 'database' } as const;
  if (error instanceof CommitOutcomeUnknownError) {
    return { ...base, kind: 'unavailable', transient: true, outcome: 'unknown', code: 'commit_lost' };
  }
  const state = serverSqlState(error);
  if (state === '08P01' && isPoolerBusy(error)) {
    return { ...base, kind: 'unavailable', transient: false, outcome: 'known', code: 'pooler_busy' };
  }
  if (state !== undefined) {
    // statement_timeout: Postgres cancelled the statement (and rolled it back). Not retried: it would time out again.
    if (state === PG.QUERY_CANCELED)
      return { ...base, kind: 'timeout', transient: false, outcome: 'known', code: state };
    if (TRANSIENT_SQLSTATES.has(state) || state.startsWith('08')) {
      return { ...base, kind: 'unavailable', transient: true, outcome: 'known', code: state };
    }
    if (UNAVAILABLE_CLASSES.has(state.slice(0, 2))) {
      return { ...base, kind: 'unavailable', transient: false, outcome: 'known', code: state };
    }
    // 23 constraint, 22 data, 42 syntax or undefined object, and the rest: this statement is wrong.
    return { ...base, kind: 'rejected', transient: false, outcome: 'known', code: state };
  }
  const errno = (error as { code?: unknown } | null | undefined)?.code;
  if (typeof errno === 'string' && NOT_SENT_ERRNOS.has(errno)) {
    return { ...base, kind: 'unavailable', transient: true, outcome: 'known', code: errno };
  }
  if (typeof errno === 'string' && BROKEN_ERRNOS.has(errno)) {
    return { ...base, kind: 'unavailable', transient: true, outcome: 'unknown', code: errno };
  }
  const message = (error as { message?: unknown } | null | undefined)?.message;
  if (typeof message !== 'string') return undefined;
  if (message === POOL_EXHAUSTED_MESSAGE) {
    return { ...base, kind: 'unavailable', transient: false, outcome: 'known', code: 'pool_exhausted' };
  }
  if (message === CLIENT_TIMEOUT_MESSAGE) {
    return { ...base, kind: 'timeout', transient: false, outcome: 'unknown', code: 'client_timeout' };
  }
  if (NOT_SENT_MESSAGES.some((m) => message.includes(m))) {
    return { ...base, kind: 'unavailable', transient: true, outcome: 'known', code: 'connect_timeout' };
  }
  if (BROKEN_MESSAGES.some((m) => message.includes(m))) {
    return { ...base, kind: 'unavailable', transient: true, outcome: 'unknown', code: 'connection_lost' };
  }
  return undefined;
}

/**
 * The label of `db_client_errors_total`: the two-character SQLSTATE class the server sent
 * (23 integrity, 40 serialization/deadlock, 42 a wrong statement, 53 resources, 57 cancelled
 * or shut down); `08` (connection exception) for a connection that failed or broke without
 * a SQLSTATE, as the classifier sees it; `other` for anything else (a bad parameter value).
 */
export function sqlStateClassOf(error: unknown): string {
  const state = serverSqlState(error);
  if (state !== undefined) return state.slice(0, 2);
  return classifyPostgresFailure(error)?.kind === 'unavailable' ? '08' : 'other';
}
