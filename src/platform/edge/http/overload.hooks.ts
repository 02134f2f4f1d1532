import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { buildProblemBody, retryAfterHeaderValue } from './problem.factory';
import { problemTypeOf } from '../../kernel/errors/problem-type.registry';
import { METRICS_PATH } from './metrics.controller';
import type { LoadPriority, LoadSheddingGate } from '../../kernel/resilience/load-shedding.gate';
import './fastify.types';
import { AddRouteConfig } from './route-config.decorator';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by @LoadPriorityOf(): the gate's priority for this route (default `sheddable`). */
    loadPriority?: LoadPriority;
  }

  interface FastifyRequest {
    /** Holds one of the gate's in-flight slots (installOverloadHooks): until its response is over and its handler done. */
    admitted: boolean;
    /** The handler has started and not yet replied (preHandler → onSend): its work still runs. */
    inHandler: boolean;
  }
}

/**
 * Routes never refused, by their exact template: probes and scrapes must answer most of all when the
 * instance is busy. Only these routes: `/health/anything` or `/metricsXYZ` (a 404) is sheddable like
 * any other request (issue 17, item 9).
 */
const EXEMPT_ROUTES: ReadonlySet<string> = new Set(['/health/live', '/health/ready', METRICS_PATH]);

/**
 * Marks a route's priority under overload (default `sheddable`).
 * @example @Post('token') @LoadPriorityOf('critical') issueToken() { ... }
 */
export const LoadPriorityOf = (priority: LoadPriority) => AddRouteConfig({ loadPriority: priority });

export interface OverloadHooksOptions {
  gate: LoadSheddingGate;
  /** True from the moment the graceful shutdown begins. */
  isDraining: () => boolean;
  /**
   * Called once for a request whose response ended before it was complete (the client hung up,
   * before, during or after its body, or the answer could not be written): the abort line and counter.
   */
  onClientGone?: (request: FastifyRequest, reply: FastifyReply) => void;
  /** How long past its budget a handler whose client hung up keeps its slot at most (default {@link HANDLER_GRACE_MS}). */
  handlerGraceMs?: number;
}

/** How long past its request budget a handler whose client hung up may keep its slot (see holdAtMostFor). */
export const HANDLER_GRACE_MS = 5_000;
const DEFAULT_BUDGET_MS = 10_000;

/**
 * The first onRequest hook after the security headers, before body parsing and before Nest: admission
 * (503 OVERLOADED with Retry-After at once when the gate refuses), the in-flight count the graceful
 * shutdown waits for, and `Connection: close` on every response while draining, so keep-alive
 * clients move to another instance after their current request instead of being reset when the
 * server closes.
 *
 * Every request, however it ends, ends with its response's `close` (Node emits it once per response:
 * after `finish`, or when the connection goes first). Fastify's own end stages do not cover every
 * case: `onResponse` needs `finish`, and `onRequestAbort` needs `req.aborted`, which Node sets only
 * while the body is incomplete, so a client that sent a whole body and hung up ran neither (issue
 * 17, item 1). One `close` listener per request (it replaces the one Fastify added for
 * `onRequestAbort`) therefore tells both what this module needs:
 * - a response that closed before it finished is a client gone: `onClientGone` (one line, one count);
 * - the slot comes back exactly once, when the response is over AND the handler is not running: a
 *   handler still at work after its client hung up (a query, a charge) keeps its slot until it
 *   replies (`onSend`), or hanging up would be a way to run unbounded work past the cap; one that
 *   never replies (a bug) keeps it at most `handlerGraceMs` past its request budget. A request whose
 *   client left before its handler started (mid-body) frees it at `close`.
 */
export function installOverloadHooks(
  fastify: FastifyInstance,
  { gate, isDraining, onClientGone, handlerGraceMs = HANDLER_GRACE_MS }: OverloadHooksOptions,
): void {
  fastify.decorateRequest('admitted', false);
  fastify.decorateRequest('inHandler', false);
  const giveBack = (request: FastifyRequest) => {
    if (!request.admitted || request.inHandler) return;
    request.admitted = false;
    gate.release();
  };
  const closed = (request: FastifyRequest, reply: FastifyReply) => {
    if (!reply.raw.writableFinished) onClientGone?.(request, reply);
    if (request.inHandler && request.admitted) holdAtMostFor(request, reply);
    else giveBack(request);
  };
  // Every handler's work is bounded by its request budget (the deadline cancels its queries and
  // calls), so one still running `handlerGraceMs` past it has lost its reply somewhere (a bug):
  // its slot comes back anyway, with a warning, rather than shrinking the capacity for good.
  // A timer only for a handler whose client hung up while it ran, never on the common path.
  const holdAtMostFor = (request: FastifyRequest, reply: FastifyReply) => {
    const budgetMs = request.routeOptions.config?.requestBudgetMs ?? DEFAULT_BUDGET_MS;
    const limitMs = Math.max(0, budgetMs - reply.elapsedTime) + handlerGraceMs;
    setTimeout(() => {
      if (!request.admitted) return;
      request.inHandler = false;
      giveBack(request);
      request.log.warn(
        { route: request.routeOptions.url, budgetMs },
        'handler still running long after its client hung up and its budget ran out: load-shedding slot released',
      );
    }, limitMs).unref();
  };
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.raw.on('close', () => closed(request, reply)); // emitted once per response
    if (isDraining()) reply.raw.setHeader('connection', 'close');
    const refused = gate.tryAcquire(priorityOf(request));
    if (refused) {
      replyOverloaded(request, reply);
      return;
    }
    request.admitted = true;
    done();
  });
  fastify.addHook('preHandler', (request, _reply, done) => {
    request.inHandler = true;
    done();
  });
  // The handler (or the filter, for what it threw) has its answer: its work is over.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    request.inHandler = false;
    if (reply.raw.closed) giveBack(request);
    done(null, payload);
  });
}

function priorityOf(request: FastifyRequest): LoadPriority {
  const { config, url } = request.routeOptions; // a getter that builds an object: read once
  if (config?.loadPriority) return config.loadPriority;
  return url !== undefined && EXEMPT_ROUTES.has(url) ? 'exempt' : 'sheddable';
}

/** The refusal: no filter, no log line of its own (the completion line and the shed counter tell it). */
function replyOverloaded(request: FastifyRequest, reply: FastifyReply): void {
  const overloaded = problemTypeOf('OVERLOADED');
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
    .status(overloaded.status)
    .header(
      'retry-after',
      retryAfterHeaderValue(overloaded.retryAfterSeconds ?? 1, request.server.retryAfterMaxSeconds),
    )
    .type('application/problem+json')
    .send(JSON.stringify(body));
}
