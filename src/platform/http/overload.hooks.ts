import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { buildProblemBody, retryAfterHeaderValue } from '../errors/problem.factory';
import { problemTypeOf } from '../errors/problem-type.registry';
import type { LoadPriority, LoadSheddingGate } from '../resilience/load-shedding.gate';
import './fastify.types';
import { AddRouteConfig } from './route-config.decorator';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by @LoadPriorityOf(): the gate's priority for this route (default `sheddable`). */
    loadPriority?: LoadPriority;
  }

  interface FastifyRequest {
    /** Holds one of the gate's in-flight slots until the response ends (installOverloadHooks). */
    admitted: boolean;
  }
}

/** Paths never refused: probes and scrapes must answer most of all when the instance is busy. */
const EXEMPT_PREFIXES = ['/health/', '/metrics'];

/**
 * Marks a route's priority under overload (default `sheddable`).
 * @example @Post('token') @LoadPriorityOf('critical') issueToken() { ... }
 */
export const LoadPriorityOf = (priority: LoadPriority) => AddRouteConfig({ loadPriority: priority });

export interface OverloadHooksOptions {
  gate: LoadSheddingGate;
  /** True from the moment the graceful shutdown begins. */
  isDraining: () => boolean;
}

/**
 * The first onRequest hook after the security headers, before body parsing and before Nest: admission
 * (503 OVERLOADED with Retry-After at once when the gate refuses), the in-flight count the graceful
 * shutdown waits for, and `Connection: close` on every response while draining, so keep-alive
 * clients move to another instance after their current request instead of being reset when the
 * server closes.
 *
 * An admitted request gives its slot back exactly once, where Fastify's own lifecycle ends it:
 * `onResponse` (the response finished or failed) or `onRequestAbort` (the client went away first).
 * Both stages run for every request anyway (the completion line, the abort line), so the gate adds
 * no listener of its own per request; a flag on the request makes the second of the two a no-op.
 */
export function installOverloadHooks(fastify: FastifyInstance, { gate, isDraining }: OverloadHooksOptions): void {
  fastify.decorateRequest('admitted', false);
  fastify.addHook('onRequest', (request, reply, done) => {
    if (isDraining()) reply.raw.setHeader('connection', 'close');
    const refused = gate.tryAcquire(priorityOf(request));
    if (refused) {
      replyOverloaded(request, reply);
      return;
    }
    request.admitted = true;
    done();
  });
  const giveBack = (request: FastifyRequest) => {
    if (!request.admitted) return;
    request.admitted = false;
    gate.release();
  };
  fastify.addHook('onResponse', (request, _reply, done) => {
    giveBack(request);
    done();
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    giveBack(request);
    done();
  });
}

function priorityOf(request: FastifyRequest): LoadPriority {
  const configured = request.routeOptions.config?.loadPriority;
  if (configured) return configured;
  const url = request.url;
  for (const prefix of EXEMPT_PREFIXES) if (url.startsWith(prefix)) return 'exempt';
  return 'sheddable';
}

const OVERLOADED = problemTypeOf('OVERLOADED');

/** The refusal: no filter, no log line of its own (the completion line and the shed counter tell it). */
function replyOverloaded(request: FastifyRequest, reply: FastifyReply): void {
  const q = request.url.indexOf('?');
  const body = buildProblemBody('OVERLOADED', {
    requestId: String(request.id),
    instance: q === -1 ? request.url : request.url.slice(0, q),
  });
  request.problemCode = 'OVERLOADED';
  // Refused before the request-id hook runs: the caller still gets the id its log line carries.
  reply.raw.setHeader('x-request-id', String(request.id));
  // The body was not read: the connection cannot be reused for a next request safely.
  if (request.headers['content-length'] || request.headers['transfer-encoding']) {
    reply.raw.setHeader('connection', 'close');
  }
  reply
    .status(OVERLOADED.status)
    .header(
      'retry-after',
      retryAfterHeaderValue(OVERLOADED.retryAfterSeconds ?? 1, request.server.retryAfterMaxSeconds),
    )
    .type('application/problem+json')
    .send(JSON.stringify(body));
}
