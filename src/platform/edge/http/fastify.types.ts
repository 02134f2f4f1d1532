import 'fastify';
import type { WorkDeadline } from '../../kernel/resilience/deadline.policy';

declare module 'fastify' {
  interface FastifyInstance {
    /** RETRY_AFTER_MAX_SECONDS, decorated by createApp: every writer of `Retry-After` clamps to it. */
    retryAfterMaxSeconds: number;
  }

  interface FastifyContextConfig {
    /** The route's time budget in ms, resolved at registration (platform/edge/http/request.deadline.ts). */
    requestBudgetMs?: number;
  }

  interface FastifyRequest {
    /** The problem `code` of an error response, for the completion log line. */
    problemCode?: string;
    /** Set by the bearer guard once the token is verified. */
    accountId?: string;
    /** The request's deadline, made when it arrives (`requestDeadline()`, platform/edge/http/request.deadline.ts); also in the request context. */
    deadline?: WorkDeadline;
    /** The caller's valid W3C `traceparent` (correlation.hooks.ts), for the completion log line. */
    traceparent?: string;
    /** With tracing on: the request's trace and server span ids (correlation.hooks.ts), for the completion log line. */
    traceId?: string;
    spanId?: string;
    /** What the problem filter answered for, so the server span can record the exception (tracing only). */
    problemError?: unknown;
  }
}
