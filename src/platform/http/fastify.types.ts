import 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The problem `code` of an error response, for the completion log line. */
    problemCode?: string;
    /** Set by the bearer guard once the token is verified. */
    accountId?: string;
    /** The caller's valid W3C `traceparent` (correlation.hooks.ts), for the completion log line. */
    traceparent?: string;
  }
}
