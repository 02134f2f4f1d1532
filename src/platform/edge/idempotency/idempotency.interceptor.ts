import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { ValidationFailedError } from '../../kernel/errors/app.errors';
import { retryAfterHeaderValue, toProblem } from '../http/problem.factory';
import type { SqlExecutor } from '../../adapters/database/sql.client';
import '../http/fastify.types';
import { IdempotencyKeyInUseError, IdempotencyKeyReusedError } from './idempotency.errors';
import { IdempotencyRepository, type IdempotencyScope, type StoredResponse } from './idempotency.repository';

/** The request header carrying the key. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Set on a replayed answer. */
export const REPLAYED_HEADER = 'idempotent-replayed';
export const MAX_KEY_LENGTH = 255;
/** An `in_progress` claim outlives the request's own budget by this much before a retry may take over. */
const LOCK_MARGIN_MS = 5_000;
/** Codes that mean the request was never processed: the key is released even with no resource. */
const NOT_PROCESSED = new Set(['VALIDATION_FAILED', 'MALFORMED_REQUEST']);

/**
 * What a handler behind {@link Idempotent} sees of its key (`@IdempotencyKey()`): it attaches
 * what it creates in the same transaction, so a retry that takes over a dead request resumes
 * that resource instead of creating another.
 */
export class IdempotencyHandle {
  private resource: string | null;

  constructor(
    private readonly repository: IdempotencyRepository,
    readonly scope: IdempotencyScope,
    /** Set when this request took over a key whose first request died after creating something. */
    readonly resumedResourceId: string | null,
  ) {
    this.resource = resumedResourceId;
  }

  /** Links the key to what this request created; call it inside the transaction that creates it. */
  async attach(tx: SqlExecutor, resourceId: string): Promise<void> {
    await this.repository.attach(tx, this.scope, resourceId);
    this.resource = resourceId;
  }

  /**
   * Unlinks the resource: it is settled and nothing irreversible happened (no charge), so a
   * 5xx answer releases the key and a retry runs afresh rather than replaying the failure.
   */
  async detach(tx: SqlExecutor): Promise<void> {
    await this.repository.attach(tx, this.scope, null);
    this.resource = null;
  }

  /** Whether the request created something a retry must not create again. */
  get hasResource(): boolean {
    return this.resource !== null;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The idempotency key of a route with `@Idempotent()`, set by {@link IdempotencyInterceptor}. */
    idempotency?: IdempotencyHandle;
  }
}

/**
 * Canonical JSON (keys sorted at every level), so `{"a":1,"b":2}` and `{"b":2,"a":1}` are
 * the same request.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Idempotency keys for unsafe requests (docs/third-party-calls.md "Idempotency keys"). Runs after the bearer
 * guard (keys are scoped to the account) and before validation.
 *
 * - missing, repeated (two header lines, which Node would merge into `a, b`) or over-long
 *   `Idempotency-Key` → 400 `VALIDATION_FAILED`;
 * - first use → claimed `in_progress` in Postgres (`INSERT ... ON CONFLICT DO NOTHING`), the
 *   handler runs, its answer (success or problem) is stored before it is sent;
 * - same key, same body, answered → the stored status and body, `Idempotent-Replayed: true`;
 *   unless the resource it describes changed state since ({@link IdempotencyRepository.reopen}):
 *   then the retry takes the key over as a resumed request, the handler answers from the
 *   resource as it is now, also marked `Idempotent-Replayed: true` (it reports what the key's
 *   first request did; it does not act again), and that answer is stored and replayed;
 * - same key, different body → 422 `IDEMPOTENCY_KEY_REUSED`;
 * - same key while the first still runs → 409 `IDEMPOTENCY_KEY_IN_USE` + `Retry-After`.
 *
 * What is stored: every 2xx and 4xx the handler decided, and any answer once the handler
 * created a resource (an order whose payment may have happened): a retry then replays and
 * can never create a second order, so never a second charge. Released for a clean retry: a
 * 5xx with no resource attached (nothing happened, or it was undone and nothing was charged)
 * and a 400 from validation.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly repository: IdempotencyRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return from(this.run(context, next));
  }

  private async run(context: ExecutionContext, next: CallHandler): Promise<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const key = keyOf(request);
    const scope: IdempotencyScope = {
      accountId: request.accountId ?? 'anonymous',
      method: request.method,
      path: request.routeOptions.url ?? request.url,
      key,
    };
    const fingerprint = createHash('sha256')
      .update(canonicalJson(request.body ?? null))
      .digest('base64url');
    const lockMs =
      (request.routeOptions.config?.requestBudgetMs ?? this.config.http.requestDeadlineMs) + LOCK_MARGIN_MS;
    const begun = await this.repository.begin(scope, fingerprint, lockMs, this.config.idempotency.ttlHours);

    switch (begun.kind) {
      case 'mismatch':
        throw new IdempotencyKeyReusedError();
      case 'in_progress':
        throw new IdempotencyKeyInUseError(begun.retryAfterSeconds);
      case 'replay':
        return replay(request, reply, begun.response, this.config.http.retryAfterMaxSeconds);
      default: {
        // Set now, so it is on the answer whether the handler returns or throws (the problem filter keeps it).
        if (begun.kind === 'resumed' && begun.outdated) reply.header(REPLAYED_HEADER, 'true');
        const handle = new IdempotencyHandle(
          this.repository,
          scope,
          begun.kind === 'resumed' ? begun.resourceId : null,
        );
        request.idempotency = handle;
        return this.runFirst(request, reply, next, handle);
      }
    }
  }

  private async runFirst(
    request: FastifyRequest,
    reply: FastifyReply,
    next: CallHandler,
    handle: IdempotencyHandle,
  ): Promise<unknown> {
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      const problem = toProblem(error, {
        id: String(request.id),
        url: request.url,
        method: request.method,
        retryAfterMaxSeconds: this.config.http.retryAfterMaxSeconds,
      });
      const { status, code } = problem.body;
      if (handle.hasResource || (status < 500 && !NOT_PROCESSED.has(code))) {
        await this.store(handle.scope, {
          status,
          headers: { ...problem.headers, 'content-type': 'application/problem+json' },
          body: JSON.stringify(problem.body),
        });
      } else {
        await this.repository.release(handle.scope).catch((releaseError: unknown) => {
          request.log.warn({ err: releaseError }, 'idempotency key not released; it unlocks when its claim expires');
        });
      }
      throw error;
    }
    await this.store(handle.scope, {
      status: reply.statusCode,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(body),
    });
    return body;
  }

  /**
   * Stores the answer before it is sent. When even that fails (the database went away), the
   * claim stays `in_progress` until it expires; then a retry takes over and resumes the
   * attached resource: never a second one.
   */
  private async store(scope: IdempotencyScope, response: StoredResponse): Promise<void> {
    await this.repository.complete(scope, response);
  }
}

function keyOf(request: FastifyRequest): string {
  const raw = request.headers[IDEMPOTENCY_HEADER];
  const problem =
    raw === undefined
      ? 'is required on this endpoint (a unique value per operation, such as a UUID)'
      : Array.isArray(raw) || headerLines(request, IDEMPOTENCY_HEADER) > 1
        ? 'must be given once'
        : raw.length < 1 || raw.length > MAX_KEY_LENGTH
          ? `must be 1 to ${MAX_KEY_LENGTH} characters`
          : undefined;
  if (problem !== undefined) {
    throw new ValidationFailedError([{ pointer: `/${IDEMPOTENCY_HEADER}`, detail: problem, in: 'header' }]);
  }
  return raw as string;
}

/**
 * How many header lines named `name` (lower case) the request carried. Node joins repeated
 * headers it does not know into one value (`a, b`), so two keys would become a third, merged
 * one; only the raw header list tells one line holding `a, b` from two lines.
 */
function headerLines(request: FastifyRequest, name: string): number {
  const raw = request.raw.rawHeaders;
  let lines = 0;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === name.length && raw[i].toLowerCase() === name) lines++;
  }
  return lines;
}

/**
 * Sends the stored answer again, marked as a replay. A problem body keeps every member but
 * `requestId`, which names this request (every response's `requestId` equals its
 * `X-Request-Id`); the first request's id stays in the logs of the first answer.
 */
function replay(
  request: FastifyRequest,
  reply: FastifyReply,
  stored: StoredResponse,
  retryAfterMaxSeconds: number,
): unknown {
  let body = JSON.parse(stored.body) as unknown;
  if (stored.status >= 400) {
    const problem = body as { code?: string; requestId?: string };
    request.problemCode = problem.code;
    body = { ...problem, requestId: String(request.id) };
  }
  const headers: Record<string, string> = { ...stored.headers, [REPLAYED_HEADER]: 'true' };
  // Written again now, by the one writer: under today's maximum, whatever was stored.
  const retryAfter = stored.headers['retry-after'];
  if (retryAfter !== undefined)
    headers['retry-after'] = retryAfterHeaderValue(Number(retryAfter), retryAfterMaxSeconds);
  reply.status(stored.status).headers(headers);
  return body;
}
