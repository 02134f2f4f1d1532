import type { components } from './openapi.types.js';

/** The RFC 9457 members every problem answer of this API carries (`components.schemas.Problem`). */
export type ProblemBody = components['schemas']['Problem'];

/**
 * Codes the client itself uses when no problem answer arrived. The server's codes are UPPER_SNAKE
 * too; these are prefixed `CLIENT_` so they can never collide with one.
 * - `CLIENT_NETWORK_ERROR`: no answer at all (refused, reset, DNS) on the last attempt;
 * - `CLIENT_DEADLINE_EXCEEDED`: the call's deadline passed, or a retry could not finish before it;
 * - `CLIENT_BAD_RESPONSE`: an answer with a failure status but no problem body (a proxy's HTML page).
 */
export type ClientProblemCode = 'CLIENT_NETWORK_ERROR' | 'CLIENT_DEADLINE_EXCEEDED' | 'CLIENT_BAD_RESPONSE';

/**
 * One typed failure for every way a call can fail. The problem members are copied onto the error
 * (`status`, `code`, `requestId`, `type`, `title`, `detail`, `instance`); `problem` is the whole body,
 * typed per operation from the OpenAPI document, so a switch on `problem.code` narrows to that problem
 * type's extension members (`errors` on a validation failure, `orderId` on a payment failure, …).
 *
 * @example
 * const { data, error } = await api.POST('/v1/orders', { body });
 * if (error) {
 *   if (error.code === 'OUT_OF_STOCK') showOutOfStock();
 *   else showMessage(`Something went wrong. Quote ${error.requestId}.`, error.retryAfter);
 * }
 */
export class ProblemError<P extends Partial<ProblemBody> = ProblemBody> extends Error {
  override readonly name = 'ProblemError';
  /** The HTTP status; 0 when no answer arrived (see {@link ClientProblemCode}). */
  readonly status: number;
  /** The stable UPPER_SNAKE code to switch on. */
  readonly code: string;
  /** The request id the server logged this call under (and that every attempt carried): quote it to support. */
  readonly requestId: string;
  /** Seconds the server asked the caller to wait before trying again (`Retry-After`), when it said. */
  readonly retryAfter?: number;
  readonly type: string;
  readonly title: string;
  readonly detail?: string;
  readonly instance?: string;
  /** Attempts made for this call (retries included). */
  readonly attempts: number;
  /** The whole problem body, with its extension members (undefined when no problem answer arrived). */
  readonly problem?: P;

  constructor(init: {
    status: number;
    code: string;
    requestId: string;
    title: string;
    type?: string;
    detail?: string;
    instance?: string;
    retryAfter?: number;
    attempts: number;
    problem?: P;
    cause?: unknown;
  }) {
    super(init.detail ? `${init.title}: ${init.detail}` : init.title, { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.title = init.title;
    this.type = init.type ?? 'about:blank';
    this.detail = init.detail;
    this.instance = init.instance;
    this.retryAfter = init.retryAfter;
    this.attempts = init.attempts;
    this.problem = init.problem;
  }

  /** The request could be retried later with some chance of success (a transient status, or no answer). */
  get transient(): boolean {
    return this.status === 0 || [408, 429, 502, 503, 504].includes(this.status);
  }

  /** JSON without the stack: safe to log (it never holds a token or a request body). */
  toJSON(): Record<string, unknown> {
    return {
      status: this.status,
      code: this.code,
      requestId: this.requestId,
      retryAfter: this.retryAfter,
      type: this.type,
      title: this.title,
      attempts: this.attempts,
    };
  }
}

/** Reads a failed answer's body as a problem; a body of another shape keeps the status with `CLIENT_BAD_RESPONSE`. */
export function problemFromAnswer(
  body: unknown,
  meta: { status: number; requestId: string; retryAfterMs?: number; attempts: number },
): ProblemError<ProblemBody> {
  const retryAfter = meta.retryAfterMs === undefined ? undefined : Math.ceil(meta.retryAfterMs / 1_000);
  if (isProblemBody(body)) {
    return new ProblemError({
      status: meta.status,
      code: body.code,
      requestId: body.requestId || meta.requestId,
      title: body.title,
      type: body.type,
      detail: body.detail,
      instance: body.instance,
      retryAfter,
      attempts: meta.attempts,
      problem: body,
    });
  }
  return new ProblemError({
    status: meta.status,
    code: 'CLIENT_BAD_RESPONSE',
    requestId: meta.requestId,
    title: 'Unexpected answer',
    detail: `The server answered ${meta.status} without a problem body.`,
    retryAfter,
    attempts: meta.attempts,
  });
}

function isProblemBody(body: unknown): body is ProblemBody {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return typeof b.code === 'string' && typeof b.title === 'string' && typeof b.status === 'number';
}
