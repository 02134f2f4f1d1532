import type { Failure } from '../../kernel/errors/failure.types';

/** Reply prefixes of a Redis that is up but cannot serve right now. */
const BUSY_REPLIES = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b/;

/**
 * Classifies an ioredis failure by the shapes ioredis gives them (it has no error codes
 * for most); `undefined` when it is not one. Generic socket errnos are left to the
 * Postgres classifier, which is what a request path meets them from (the cache fails open).
 */
export function classifyRedisFailure(error: unknown): Failure | undefined {
  const e = error as { name?: unknown; message?: unknown } | null | undefined;
  const name = typeof e?.name === 'string' ? e.name : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  const base = { dependency: 'redis' } as const;
  // commandTimeout fired: the command was sent and may have run.
  if (message === 'Command timed out')
    return { ...base, kind: 'timeout', transient: true, outcome: 'unknown', code: 'command_timeout' };
  // No offline queue while disconnected: the command never left.
  if (message.startsWith("Stream isn't writeable")) {
    return { ...base, kind: 'unavailable', transient: true, outcome: 'known', code: 'not_connected' };
  }
  // A Redis Cluster connection with no slot table yet (booting, every node away): nothing was sent.
  if (message.startsWith("Cluster isn't ready") || message === 'None of startup nodes is available') {
    return { ...base, kind: 'unavailable', transient: true, outcome: 'known', code: 'cluster_not_ready' };
  }
  // Redirected (MOVED/ASK) or refreshed until ioredis gave up: a failover in progress.
  if (name === 'ClusterAllFailedError' || message.startsWith('Too many Cluster redirections')) {
    return { ...base, kind: 'unavailable', transient: true, outcome: 'unknown', code: 'cluster_redirections' };
  }
  if (name === 'MaxRetriesPerRequestError' || message === 'Connection is closed.') {
    return { ...base, kind: 'unavailable', transient: true, outcome: 'unknown', code: 'connection_lost' };
  }
  if (name === 'ReplyError') {
    const busy = BUSY_REPLIES.exec(message);
    if (busy) return { ...base, kind: 'unavailable', transient: true, outcome: 'known', code: busy[1] };
    return { ...base, kind: 'rejected', transient: false, outcome: 'known', code: message.split(' ')[0].slice(0, 20) };
  }
  return undefined;
}
