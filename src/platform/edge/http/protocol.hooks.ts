import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { AppError } from '../../kernel/errors/app.errors';
import { replyWithProblem } from './problem-details.filter';
import { rawProblemResponse } from './problem.factory';
import { requestIdOf } from './request-id.factory';

/**
 * The HTTP rejections Node makes on its own, before any hook runs, answered with a bare
 * status, an empty body and no request id (or a closed socket). Each is taken over here so
 * that every answer is a problem body with `X-Request-Id`:
 * - HTTP/1.1 without `Host` (Node's `requireHostHeader`, turned off in app.factory.ts): 400 MALFORMED_REQUEST.
 * - `Expect` other than `100-continue` (Node's automatic 417): 400 REQUEST_REJECTED. RFC 9110
 *   §10.1.1 allows, not requires, 417; the catalog's REQUEST_REJECTED is the "unacceptable header" answer.
 * - `CONNECT` (Node closes the socket when nobody listens): 404 ROUTE_NOT_FOUND, this is not a proxy.
 */
export function installProtocolHooks(fastify: FastifyInstance, logger: Logger): void {
  const server = fastify.server;

  // With a listener, Node no longer answers 417 itself: the request goes through Fastify like any other.
  server.on('checkExpectation', (req: IncomingMessage, res) => server.emit('request', req, res));

  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    const requestId = requestIdOf(req);
    logger.info({ requestId, method: 'CONNECT', code: 'ROUTE_NOT_FOUND' }, 'request rejected');
    socket.on('error', () => socket.destroy());
    socket.end(rawProblemResponse('ROUTE_NOT_FOUND', requestId, 'This server does not accept CONNECT.'));
  });

  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      replyWithProblem(
        request,
        reply,
        new AppError('MALFORMED_REQUEST', { detail: 'HTTP/1.1 requests need a Host header.' }),
      );
      return;
    }
    const expect = request.headers.expect;
    if (expect !== undefined && expect.trim().toLowerCase() !== '100-continue') {
      replyWithProblem(
        request,
        reply,
        new AppError('REQUEST_REJECTED', { detail: 'Only Expect: 100-continue is supported.' }),
      );
      return;
    }
    done();
  });
}
