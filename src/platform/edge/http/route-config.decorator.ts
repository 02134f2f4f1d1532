import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';

/**
 * Adds keys to a route's Fastify `config`, keeping what other decorators put there. Nest's own
 * `@RouteConfig()` replaces the whole object, so `@RequestBudget()` and `@BusinessFlow()` on
 * one route would silently drop one another; every platform decorator that sets route config
 * goes through this one.
 * @example
 * export const BusinessFlow = (flow: BusinessFlowName) => AddRouteConfig({ businessFlow: flow });
 */
export const AddRouteConfig =
  (config: Record<string, unknown>): MethodDecorator =>
  (_target, _key, descriptor) => {
    const previous = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, descriptor.value as object) ?? {}) as object;
    Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...previous, ...config }, descriptor.value as object);
    return descriptor;
  };
