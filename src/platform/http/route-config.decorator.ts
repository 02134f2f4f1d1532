import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { FastifyContextConfig } from 'fastify';

/**
 * Adds members to a route's Fastify config (`request.routeOptions.config`) without dropping
 * what other decorators put there. Nest's own `@RouteConfig()` replaces the whole object, so
 * `@BusinessFlow('login')` above `@LoadPriorityOf('critical')` silently turned login back
 * into a sheddable route; every platform decorator that sets route config goes through this.
 * @example export const LoadPriorityOf = (priority: LoadPriority) => withRouteConfig({ loadPriority: priority });
 */
export const withRouteConfig =
  (config: Partial<FastifyContextConfig>): MethodDecorator =>
  (_target, _key, descriptor) => {
    const handler = descriptor.value as object;
    const current = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) ?? {}) as object;
    Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...current, ...config }, handler);
    return descriptor;
  };
