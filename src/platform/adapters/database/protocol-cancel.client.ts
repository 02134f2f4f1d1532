import { connect } from 'node:net';
import type { PoolClient } from 'pg';

/** What a pg client exposes of its connection: the server's cancel key and where it connected. */
interface CancelTarget {
  processID?: number | null;
  secretKey?: number | null;
  host?: string;
  port?: number;
}

/** The CancelRequest message code (PostgreSQL protocol 3: 1234 << 16 | 5678). */
const CANCEL_REQUEST_CODE = 80_877_102;

/**
 * Sends the protocol's CancelRequest for the statement a connection is running: a fresh
 * socket to the same host and port carrying the connection's process id and secret key, as
 * psql's Ctrl-C and libpq's `PQcancel` do. Postgres answers with SQLSTATE 57014 on the
 * original connection. Unlike `SELECT pg_cancel_backend(pid)` it works through a transaction
 * pooler: PgBouncer hands its clients a key of its own (not a backend pid) and forwards the
 * request to whichever server connection that client is using at that moment.
 *
 * Resolves once the server has closed the cancel socket (it has then passed the request on),
 * or after `timeoutMs`; never rejects (a cancel that cannot be sent leaves the statement to its
 * own limits, and the client's read timeout a margin later). The caller keeps the connection
 * checked out until this resolves, so the cancel can never land on a later statement of the
 * next caller of that connection.
 */
export function sendCancelRequest(client: PoolClient, timeoutMs = 1_000): Promise<void> {
  const target = client as unknown as CancelTarget;
  const { processID, secretKey } = target;
  if (processID == null || secretKey == null) return Promise.resolve();
  const host = target.host ?? '127.0.0.1';
  const port = target.port ?? 5432;
  return new Promise((resolve) => {
    // A Unix-socket host (a directory) names the socket file as libpq does.
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    socket.once('connect', () => {
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      packet.writeInt32BE(processID, 8);
      packet.writeInt32BE(secretKey, 12);
      // write, not end: like libpq's PQcancel, keep our side open until the server closes it. A
      // half-close right after the packet crashed PgBouncer 1.18 ("client unexpected eof" while it was
      // still forwarding the cancel, then FATAL "bad client state" in disconnect_client), taking every
      // instance's connections down with it.
      socket.write(packet);
    });
    socket.once('close', done);
    socket.once('error', done);
  });
}
