import { AddRouteConfig } from './route-config.decorator';
import type { BusinessFlowName } from '../../kernel/metrics/metrics.catalog';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by @BusinessFlow(): the completion hook counts this route's attempts and failures. */
    businessFlow?: BusinessFlowName;
  }
}

/**
 * Marks a route as one attempt of a key business flow (F35). Every response of the route
 * counts in `business_flow_attempts_total{flow}`; every problem response (4xx or 5xx, from
 * any layer: validation, guard, service, database) also in `business_flow_failures_total{flow,code}`
 * with its problem code. The count happens once, in the HTTP completion hook, so no service
 * needs a try/catch to be counted and nothing thrown before the service is missed.
 * Flows that finish outside a request (a report job, a payment reconciled later) count
 * from their own code through MetricsService.
 * @example
 * @Post()
 * @BusinessFlow('signup')
 * create(@Body({ schema }) input: CreateAccountInput) { … }
 */
export const BusinessFlow = (flow: BusinessFlowName): MethodDecorator => AddRouteConfig({ businessFlow: flow });
