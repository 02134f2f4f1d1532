import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../../config/config.schemas';
import { WorkDeadline, type Deadline } from '../../kernel/resilience/deadline.policy';
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
 * `REQUEST_DEADLINE_MS`. Per request, {@link requestDeadline} then only reads a number.
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

/**
 * The request's deadline, made when the request arrives (the correlation hook, for every request):
 * its route's budget ({@link RequestBudget}, else `REQUEST_DEADLINE_MS`, resolved at registration)
 * from now, as a {@link WorkDeadline} in the request context. It costs one number per request: the
 * SQL seam caps each statement's `statement_timeout` by what is left (Postgres ends it then, 504
 * `DEADLINE_EXCEEDED`), and the hang-up cancels it (client-abort.hooks.ts), which cancels the
 * running statement on the server. Kept on the request for the edge's own readers.
 */
export function requestDeadline(request: FastifyRequest): WorkDeadline {
  const deadline = new WorkDeadline(Date.now() + (request.routeOptions.config?.requestBudgetMs ?? DEFAULT_BUDGET_MS));
  request.deadline = deadline;
  return deadline;
}

/**
 * The request's {@link Deadline} (its timer and `AbortSignal`), for work that takes a signal rather
 * than reading the request context (the password hasher's queue): the deadline of
 * {@link requestDeadline}, made into a full one on first use; fired when the budget runs out or
 * the client goes away. SQL statements and provider calls need none of this: they read the
 * request context.
 */
export function deadlineOf(request: FastifyRequest, reply: FastifyReply): Deadline {
  if (request.deadline) return request.deadline.deadline();
  // A request the correlation hook did not see (an app built without it): the budget from reception.
  const deadline = new WorkDeadline(Date.now() + (budgetOf(request) - reply.elapsedTime));
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) deadline.cancel(new Error('client closed the connection'));
  });
  request.deadline = deadline;
  return deadline.deadline();
}

function budgetOf(request: FastifyRequest): number {
  return request.routeOptions.config?.requestBudgetMs ?? DEFAULT_BUDGET_MS;
}

/**
 * The request's {@link Deadline} as a handler parameter, for work that takes an `AbortSignal`
 * (SQL statements and provider calls read the request context instead: pass them nothing).
 * @example signUp(@RequestDeadline() deadline: Deadline) { return this.accounts.signUp(input, deadline.signal); }
 */
export const RequestDeadline = createParamDecorator((_data: unknown, context: ExecutionContext): Deadline => {
  const http = context.switchToHttp();
  return deadlineOf(http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
});
