import helmet from '@fastify/helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../../config/config.schemas';

/** A JSON API serves no pages: nothing may load, frame or run from its answers. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** Swagger UI (/docs) is a page: its own scripts, styles and images, nothing from elsewhere. */
const DOCS_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/**
 * OWASP API8 (security misconfiguration) and API4 (unrestricted resource consumption) at the HTTP edge:
 * - security headers (@fastify/helmet): HSTS, nosniff, frame-deny, no referrer, a CSP that allows nothing
 *   on the API and only same-origin assets on /docs; Fastify sends no X-Powered-By;
 * - CORS only for the origins in CORS_ORIGINS (none by default: no cross-origin access at all);
 * (JSON depth and array limits are checked by the body parser's byte scan, `json-body.factory.ts`;
 * prototype-pollution keys `__proto__` and `constructor.prototype` are refused by Fastify's JSON parser
 * itself: 400 MALFORMED_REQUEST.)
 */
export async function installSecurity(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: false, // set below, per path
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  fastify.addHook('onSend', (request, reply, payload, done) => {
    reply.header('content-security-policy', request.url.startsWith('/docs') ? DOCS_CSP : API_CSP);
    done(null, payload);
  });
  if (config.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.corsOrigins,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'],
      maxAge: 600,
    });
  }
}
