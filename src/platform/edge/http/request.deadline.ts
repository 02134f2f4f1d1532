import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../../config/config.schemas';
import { Deadline } from '../../kernel/resilience/deadline.policy';
import { AddRouteConfig } from './route-config.decorator';
import './fastify.types';

/** A route's own budget: a fixed number of ms, or read from the configuration. */
export type RequestBudgetMs = number | ((config: AppConfig) => number);

/** Fastify route config key carrying a route's budget (set by {@link RequestBudget}). */
const BUDGET_KEY = 'requestBudgetMs';

/**
 * Gives a route its own time budget instead of `REQUEST_DEADLINE_MS`.
 * @example @Post() @RequestBudget((config) => config.orders.requestDeadlineMs) create(...) {}
 */
export const RequestBudget = (budget: RequestBudgetMs): MethodDecorator => AddRouteConfig({ [BUDGET_KEY]: budget });

/**
 * Resolves every route's budget once, when the route is registered (an `onRoute` hook):
 * its {@link RequestBudget} (a number, or a function of the configuration) or
 * `REQUEST_DEADLINE_MS`. Per request, {@link deadlineOf} then only reads a number.
 */
export function installRequestBudgets(fastify: FastifyInstance, config: AppConfig): void {
  fastify.addHook('onRoute', (route) => {
    const routeConfig = (route.config ?? {}) as Record<string, unknown>;
    const budget = routeConfig[BUDGET_KEY] as RequestBudgetMs | undefined;
    routeConfig[BUDGET_KEY] = typeof budget === 'function' ? budget(config) : (budget ?? config.http.requestDeadlineMs);
    route.config = routeConfig as typeof route.config;
  });
}

const DEFAULT_BUDGET_MS = 10_000;

function budgetOf(request: FastifyRequest): number {
  return request.routeOptions.config?.requestBudgetMs ?? DEFAULT_BUDGET_MS;
}

/**
 * The request's deadline: its budget counted from the moment Fastify received the request
 * (`reply.elapsedTime`, a timestamp Fastify already keeps), so nothing runs per request
 * until a handler asks: no hook, no timer. The first call makes the {@link Deadline} (one
 * `AbortSignal` that fires when the budget runs out or the client goes away) and caches it
 * on the request. Pass it down: `deadline.signal` to the SQL seam, the deadline itself to
 * outbound clients; when it fires, the query is cancelled on the server and the fetch
 * aborted, and the caller gets 504 `DEADLINE_EXCEEDED` (or the dependency's own 504).
 */
export function deadlineOf(request: FastifyRequest, reply: FastifyReply): Deadline {
  if (request.deadline) return request.deadline;
  const client = new AbortController();
  // The caller went away (socket closed before we answered): stop the work too.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) client.abort(new Error('client closed the connection'));
  });
  const deadline = Deadline.after(budgetOf(request) - reply.elapsedTime, client.signal);
  request.deadline = deadline;
  return deadline;
}

/**
 * The request's {@link Deadline} as a handler parameter.
 * @example create(@RequestDeadline() deadline: Deadline) { return this.orders.create(..., { deadline }); }
 */
export const RequestDeadline = createParamDecorator((_data: unknown, context: ExecutionContext): Deadline => {
  const http = context.switchToHttp();
  return deadlineOf(http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
});
