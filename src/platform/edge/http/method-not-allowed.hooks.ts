import type { FastifyInstance } from 'fastify';
import { MethodNotAllowedError } from '../../kernel/errors/app.errors';

/** The order `Allow` lists methods in; any other method a route uses comes after, alphabetically. */
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * A path that exists with other methods is a 405 `METHOD_NOT_ALLOWED` with `Allow` (RFC 9110
 * §15.5.6), not a 404: `DELETE /v1/products` → `Allow: GET, HEAD`. Only requests no route
 * matched pay anything: every other request passes one boolean check (`request.is404`). For
 * those, each method some route uses is tried against the router (the route's own matching, path
 * parameters included); a catch-all match (`OPTIONS *` of CORS preflights, a static `/*`) does
 * not count, or every unknown path would be a 405.
 *
 * A preHandler, not an onRequest hook: every onRequest hook (CORS headers, the request id) has
 * run, so the 405 carries what a 404 would. The error goes to the one filter, like any other.
 */
export function installMethodNotAllowed(fastify: FastifyInstance): void {
  const methods = new Set<string>();
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) methods.add(method.toUpperCase());
  });
  let ordered: string[] | undefined;
  fastify.addHook('preHandler', (request, _reply, done) => {
    if (!request.is404) return done();
    ordered ??= [...methods].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const q = request.url.indexOf('?');
    const path = q === -1 ? request.url : request.url.slice(0, q);
    const matches = (method: string) => {
      const found = fastify.findRoute({ method: method as never, url: path });
      return found !== null && !('*' in (found.params as Record<string, string>));
    };
    // The router's lookup matches the request's own method too (`GET /v1/products/`: an empty id,
    // which the request's routing refuses): the method is not what is wrong, so a plain 404.
    if (matches(request.method)) return done();
    const allowed = ordered.filter((method) => method !== request.method && matches(method));
    done(allowed.length > 0 ? new MethodNotAllowedError(request.method, path, allowed) : undefined);
  });
}

const rank = (method: string): number => {
  const i = ORDER.indexOf(method);
  return i === -1 ? ORDER.length : i;
};
