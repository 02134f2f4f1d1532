import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { inspect } from 'node:util';
import { clientGone } from './client-abort.hooks';
import './fastify.types';
import { toProblem } from './problem.factory';

/**
 * The one global exception filter: whatever is thrown from a controller, guard, pipe,
 * interceptor, middleware, the body parser or the router reaches the caller as
 * `application/problem+json`. Unexpected errors are logged with their stack here and
 * nowhere else; the caller only gets a generic detail and the requestId.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    replyWithProblem(http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), exception);
  }
}

/** Also used by the Fastify-level handlers that run before Nest sees the request. */
export function replyWithProblem(request: FastifyRequest, reply: FastifyReply, thrown: unknown): void {
  const problem = toProblem(thrown, {
    id: String(request.id),
    url: request.url,
    method: request.method,
    retryAfterMaxSeconds: request.server.retryAfterMaxSeconds,
  });
  const { body } = problem;
  request.problemCode = body.code;
  if (body.status >= 500) request.problemError = thrown;

  // The client hung up (the body parser's `aborted` ECONNRESET, or anything failing after):
  // nobody is waiting for an answer, and it is not our failure, so no line here (the response's
  // close logs and counts it once). The answer is still sent (Node drops it): sending is how the
  // handler's work ends, and with it its hold on a load-shedding slot (overload.hooks.ts).
  if (!clientGone(request)) logProblem(request, problem);

  if (reply.sent || reply.raw.headersSent) return;
  reply.raw.setHeader('x-request-id', String(request.id));
  reply.status(body.status).headers(problem.headers).type('application/problem+json').send(JSON.stringify(body));
}

function logProblem(request: FastifyRequest, problem: ReturnType<typeof toProblem>): void {
  const { body } = problem;
  if (problem.unexpected !== undefined) {
    request.log.error(
      { err: asError(problem.unexpected), code: body.code, status: body.status, route: request.routeOptions?.url },
      'request failed',
    );
  } else {
    request.log[problem.logLevel]({ code: body.code, status: body.status, detail: body.detail }, 'request rejected');
  }
}

/** pino serializes Errors with their stack; anything else thrown is described, not lost. */
function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const error = new Error(
    `Non-Error value thrown: ${inspect(thrown, { depth: 3, breakLength: Infinity }).slice(0, 500)}`,
  );
  error.name = 'NonErrorThrown';
  return error;
}
