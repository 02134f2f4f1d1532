import { createConnection, createServer } from 'node:net';

export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What is awaited, for the failure message. */
  what?: string;
}

/**
 * Calls `check` until it returns a value other than `undefined` or `false`, and
 * resolves with it: the one way tests wait, never a blind sleep. Rejects once
 * `timeoutMs` has passed; an exception from `check` stops the polling at once
 * (a check that expects transient failures, like a server not listening yet, catches them).
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: PollOptions = {},
): Promise<T> {
  const { timeoutMs = 5_000, intervalMs = 25, what = 'the condition' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A TCP port nothing listens on (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A port below the ephemeral range (32768+ on Linux) that no test ever listens on. */
const NEVER_LISTENING_PORT = 1;

/**
 * A port on 127.0.0.1 that refuses every connection for as long as a test runs: "the server is
 * down". Not a {@link freePort}: that port is free only when asked for, and the kernel hands the
 * same ports out again and again (here, 254 of 2,000 `listen(0)` calls got a port already handed
 * out), so during a test that lasts seconds another test file's private redis-server, Postgres or
 * app can listen on it, and "down" answers. Port 1 is below the ephemeral range: no `listen(0)`
 * nor any outgoing connection ever uses it. Returned only once a connect to it was seen refused.
 */
export async function refusingPort(): Promise<number> {
  const refused = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: NEVER_LISTENING_PORT });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
  if (!refused) throw new Error(`127.0.0.1:${NEVER_LISTENING_PORT} does not refuse connections on this machine`);
  return NEVER_LISTENING_PORT;
}
