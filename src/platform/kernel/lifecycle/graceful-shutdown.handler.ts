import type { INestApplicationContext } from '@nestjs/common';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { AppConfig } from '../../../config/config.schemas';
import { sleep } from '../resilience/backoff.policy';
import { LifecycleService } from './lifecycle.service';

/** The HTTP side of a process that serves requests (the API; a worker has none or only probes). */
export interface ShutdownHttp {
  server: Server;
  /** Requests admitted and not yet answered (LoadSheddingGate.inFlight). */
  inFlight(): number;
}

const POLL_MS = 20;

/** After a clean shutdown, how long the process waits for its last log lines before it exits anyway. */
export const SHUTDOWN_EXIT_DELAY_MS = 1_000;

/**
 * The graceful stop of a process, for runEntrypoint() to call on SIGTERM/SIGINT. No caller
 * that was accepted sees a reset:
 * 1. readiness turns 503 (SHUTTING_DOWN) at once, and every response from now on carries
 *    `Connection: close` (overload.hooks.ts), so keep-alive clients open their next request
 *    elsewhere instead of reusing a connection that is about to close;
 * 2. the server keeps serving for `SHUTDOWN_DRAIN_MS` (the load balancer's time to notice);
 * 3. it stops accepting connections, closes idle ones, and lets in-flight requests finish for
 *    up to `SHUTDOWN_INFLIGHT_TIMEOUT_MS`, then waits for their connections to end;
 * 4. Nest closes every pool and connection (queue producers, Postgres, Redis) within
 *    `SHUTDOWN_CLOSE_TIMEOUT_MS`: a dependency that hangs is abandoned, not waited for. Requests
 *    still running after step 3 are answered by that close (a statement on a hung database fails
 *    with 503 after `DB_CLOSE_TIMEOUT_MS`); what still runs after it is cut (and logged);
 * 5. the process exits 0 (1 when a fatal error started it), whatever lingers.
 * The whole sequence is bounded by drain + in-flight + 2 × close timeouts: keep the orchestrator's
 * grace period (Kubernetes `terminationGracePeriodSeconds`) above that sum.
 * A second call does not restart the sequence.
 */
export function gracefulShutdown(
  app: INestApplicationContext,
  config: AppConfig,
  logger: Logger,
  http?: ShutdownHttp,
  /** Runs last, bounded by its own deadline: the tracing SDK's flush of the spans still queued. */
  flushTelemetry?: (timeoutMs: number) => Promise<void>,
): (reason: string) => Promise<void> {
  const lifecycle = app.get(LifecycleService);
  const { drainMs, inFlightTimeoutMs, closeTimeoutMs } = config.shutdown;
  return async (signal: string): Promise<void> => {
    if (lifecycle.isShuttingDown) return;
    lifecycle.beginShutdown();
    const startedAt = Date.now();
    logger.info({ signal, drainMs }, 'shutdown started: readiness is now 503');
    if (drainMs > 0) await sleep(drainMs);
    let clean = true;
    const accepting = http ? await stopAccepting(http, inFlightTimeoutMs, logger) : undefined;
    if (http && accepting && accepting.stragglers === 0) {
      clean = await withDeadline(accepting.closed, closeTimeoutMs);
      if (!clean) http.server.closeAllConnections();
      logger.info({ cutRequests: 0 }, 'shutdown: HTTP server closed');
    }
    // With requests still running, the pools close under them first: a statement stuck on a
    // hung database then fails with a 503 its caller sees (the SQL seam cuts it after
    // DB_CLOSE_TIMEOUT_MS), rather than the connection being cut with no answer at all.
    try {
      const closed = await withDeadline(app.close(), closeTimeoutMs);
      if (!closed) {
        clean = false;
        logger.warn({ closeTimeoutMs }, 'shutdown: closing pools and connections timed out; exiting anyway');
      }
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exitCode = 1;
    }
    if (http && accepting && accepting.stragglers > 0) {
      clean = false;
      const cut = http.inFlight();
      if (cut > 0)
        logger.warn({ inFlight: cut, inFlightTimeoutMs }, 'shutdown: in-flight requests cut at the deadline');
      http.server.closeAllConnections();
      logger.info({ cutRequests: cut }, 'shutdown: HTTP server closed');
    }
    if (flushTelemetry) await flushTelemetry(closeTimeoutMs);
    logger.info({ durationMs: Date.now() - startedAt, clean }, 'shutdown complete');
    logger.flush();
    // Timers or sockets someone forgot (or a dependency that hung) must not keep a stopped instance alive.
    setTimeout(() => process.exit(), clean ? SHUTDOWN_EXIT_DELAY_MS : 50).unref();
  };
}

/**
 * Stops accepting and waits for in-flight requests (bounded). Returns when the server has
 * closed (every connection ended) and how many requests were still running at the deadline.
 */
async function stopAccepting(
  http: ShutdownHttp,
  inFlightTimeoutMs: number,
  logger: Logger,
): Promise<{ closed: Promise<void>; stragglers: number }> {
  const { server } = http;
  if (!server.listening) return { closed: Promise.resolve(), stragglers: 0 };
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Connections idle right now close now; the busy ones close after their response (it says `Connection: close`).
  server.closeIdleConnections();
  const deadline = Date.now() + inFlightTimeoutMs;
  while (http.inFlight() > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    // A connection whose last request was answered before the drain has no `Connection: close` to end it.
    server.closeIdleConnections();
  }
  server.closeIdleConnections();
  const stragglers = http.inFlight();
  if (stragglers > 0) {
    logger.warn(
      { inFlight: stragglers, inFlightTimeoutMs },
      'shutdown: in-flight requests still running at the deadline; closing the pools under them',
    );
  }
  return { closed, stragglers };
}

/** Resolves true when `work` settles in time, false when the deadline passes first (rejections propagate). */
async function withDeadline(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
