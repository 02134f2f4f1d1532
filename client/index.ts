/**
 * The typed client of resilient-api: the caller's half of "never ship a 500 you could prevent".
 *
 * `createClient()` returns an openapi-fetch client typed from the API's OpenAPI document (`GET`, `POST`, …)
 * whose every call is one *logical call* that may take several attempts:
 * - one request id per logical call, sent as `X-Request-Id` on every attempt (a caller's own id, and
 *   its `traceparent`, are passed through unchanged), so the server's log lines of all attempts join up;
 * - one `Idempotency-Key` per logical call to an operation that takes one (generated unless the caller
 *   passes its own), the same on every attempt: a retried order is never a second order;
 * - retries only where safe and only for failures that may pass, with capped, fully jittered backoff,
 *   `Retry-After` honoured (clamped), and hard caps on attempts and on total time (./retry.policy.ts);
 * - every failure, HTTP or not, **returned** as `error`, one {@link ProblemError} (never thrown; the only
 *   exception that escapes is the caller's own abort, as its `AbortSignal` reason);
 * - `onEvent` once per attempt with the method, route template, status, duration, request id and the
 *   retry decision: what to log or count. It never carries a token, a body, a query string or a path id.
 *
 * Works in Node 20+ and in browsers (fetch, AbortSignal.any, crypto.randomUUID); no Node-only import.
 *
 * @example
 * import { createClient } from 'resilient-api/client'; // dist/client/index.js in this repository
 * const api = createClient({ baseUrl: 'http://localhost:3000', token, onEvent: (e) => log.info(e, 'api call') });
 * const { data, error } = await api.POST('/v1/orders', { body: { items, paymentToken: 'tok_ok' } });
 * if (error) console.warn(`${error.code}: quote ${error.requestId}`, error.retryAfter);
 */
import createFetchClient, {
  type Client,
  type ClientPathsWithMethod,
  type FetchResponse,
  type MaybeOptionalInit,
} from 'openapi-fetch';
import { KEYED_OPERATIONS } from './openapi.operations.js';
import type { paths } from './openapi.types.js';
import { ProblemError, problemFromAnswer, type ProblemBody } from './problem.errors.js';
import { DEFAULT_RETRY_POLICY, decideRetry, parseRetryAfter, type RetryPolicy } from './retry.policy.js';

export { ProblemError, type ClientProblemCode, type ProblemBody } from './problem.errors.js';
export {
  DEFAULT_RETRY_POLICY,
  backoffMs,
  decideRetry,
  isSafeMethod,
  isTransient,
  parseRetryAfter,
  type AttemptOutcome,
  type RetryDecision,
  type RetryPolicy,
} from './retry.policy.js';
export type { components, operations, paths } from './openapi.types.js';

/** One attempt of a logical call, for logs and metrics. Holds no token, body, query string or path value. */
export interface AttemptEvent {
  method: string;
  /** The route template (`/v1/orders/{id}`), never the filled-in path. */
  route: string;
  /** The HTTP status; undefined when no answer came (`error` says why). */
  status: number | undefined;
  /** The problem code of a failed answer, when it had one. */
  code?: string;
  /** Why no answer came: refused/reset (`network`) or the attempt ran out of time (`timeout`). */
  error?: 'network' | 'timeout';
  /** 1 for the first attempt. */
  attempt: number;
  durationMs: number;
  /** The same on every attempt of one logical call. */
  requestId: string;
  willRetry: boolean;
  /** The wait before the next attempt (ms); undefined when `willRetry` is false. */
  retryInMs: number | undefined;
}

export interface CreateClientOptions {
  /** Where the API is, e.g. `http://localhost:3000` (a page on the API's own origin may pass `location.origin`). */
  baseUrl: string;
  /** The bearer token, or a function read before each logical call (a page that signs in later). */
  token?: string | (() => string | undefined);
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: (request: Request) => Promise<Response>;
  /** Attempts per logical call, the first included (default 4; 1 turns retries off). */
  maxAttempts?: number;
  /** Total time per logical call, retries and waits included (default 15 000 ms). */
  deadlineMs?: number;
  /** Called once per attempt; must not throw (an exception from it is swallowed). */
  onEvent?: (event: AttemptEvent) => void;
  /** Finer retry settings: backoff base and cap, the most a `Retry-After` may make it wait, the least time an attempt needs. */
  retry?: Partial<Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs' | 'minAttemptMs'>>;
}

/** Per-call overrides, passed beside `params`/`body`: `api.GET('/v1/products', { deadlineMs: 2_000 })`. */
export interface CallOptions {
  deadlineMs?: number;
  maxAttempts?: number;
}

type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'options' | 'head' | 'patch' | 'trace';
type Media = `${string}/${string}`;
type RequiredKeysOf<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type InitParam<Init> =
  RequiredKeysOf<Init> extends never
    ? [(Init & CallOptions & { [key: string]: unknown })?]
    : [Init & CallOptions & { [key: string]: unknown }];

/** openapi-fetch's answer, with the failure side replaced by a {@link ProblemError} typed from that operation's problem bodies. */
export type ResilientResponse<R> = R extends { error: infer E; data?: never }
  ? { data?: never; error: ProblemError<Extract<E, Partial<ProblemBody>>>; response?: Response }
  : R;

type ResilientMethod<M extends HttpMethod> = <
  Path extends ClientPathsWithMethod<Client<paths, Media>, M>,
  Init extends MaybeOptionalInit<paths[Path], M>,
>(
  url: Path,
  ...init: InitParam<Init>
) => Promise<ResilientResponse<FetchResponse<Extract<paths[Path][M], Record<string | number, unknown>>, Init, Media>>>;

/** The client: openapi-fetch's methods, each a logical call with the behaviour described above. */
export interface ApiClient {
  GET: ResilientMethod<'get'>;
  POST: ResilientMethod<'post'>;
  PUT: ResilientMethod<'put'>;
  PATCH: ResilientMethod<'patch'>;
  DELETE: ResilientMethod<'delete'>;
  HEAD: ResilientMethod<'head'>;
  OPTIONS: ResilientMethod<'options'>;
  /** The underlying openapi-fetch client (its `use()`/`eject()` for more middleware). */
  readonly raw: Client<paths, Media>;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** What the final answer of a logical call carried, for the ProblemError built from it. */
interface CallMeta {
  requestId: string;
  attempts: number;
  retryAfterMs?: number;
}

/**
 * Creates the typed, retrying client.
 * @example const api = createClient({ baseUrl: 'http://localhost:3000', maxAttempts: 3, deadlineMs: 5_000 });
 */
export function createClient(options: CreateClientOptions): ApiClient {
  const baseFetch = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    ...options.retry,
    ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    ...(options.deadlineMs !== undefined && { deadlineMs: options.deadlineMs }),
  };
  const metaOf = new WeakMap<Response, CallMeta>();
  const raw = createFetchClient<paths, Media>({ baseUrl: options.baseUrl });

  raw.use({
    // Short-circuits openapi-fetch's own fetch: the attempts happen here and the final answer is returned.
    async onRequest({ request, schemaPath }) {
      const call = request as Request & CallOptions;
      const callPolicy: RetryPolicy = {
        ...policy,
        ...(call.deadlineMs !== undefined && { deadlineMs: call.deadlineMs }),
        ...(call.maxAttempts !== undefined && { maxAttempts: call.maxAttempts }),
      };
      const { response, meta } = await attempts(request, schemaPath, callPolicy);
      metaOf.set(response, meta);
      return response;
    },
  });

  async function attempts(
    request: Request,
    route: string,
    callPolicy: RetryPolicy,
  ): Promise<{ response: Response; meta: CallMeta }> {
    const started = performance.now();
    const method = request.method.toUpperCase();
    const requestId = request.headers.get('x-request-id') ?? globalThis.crypto.randomUUID();
    request.headers.set('x-request-id', requestId);
    const keyed = request.headers.has('idempotency-key') || KEYED_OPERATIONS.has(`${method} ${route}`);
    if (keyed && !request.headers.has('idempotency-key')) {
      request.headers.set('idempotency-key', globalThis.crypto.randomUUID());
    }
    const token = typeof options.token === 'function' ? options.token() : options.token;
    if (token && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
    const callerSignal = request.signal;

    for (let attempt = 1; ; attempt++) {
      const left = callPolicy.deadlineMs - (performance.now() - started);
      if (left < callPolicy.minAttemptMs) {
        // Not started: it could not finish in time (also the case for a deadline shorter than one attempt).
        throw new ProblemError({
          status: 0,
          code: 'CLIENT_DEADLINE_EXCEEDED',
          requestId,
          title: 'Deadline exceeded',
          detail: `No attempt could finish within the ${callPolicy.deadlineMs} ms deadline.`,
          attempts: attempt - 1,
        });
      }
      const attemptStarted = performance.now();
      const timeout = AbortSignal.timeout(Math.ceil(left));
      const signal = AbortSignal.any([callerSignal, timeout]);
      let response: Response | undefined;
      let failure: unknown;
      try {
        const answer = await baseFetch(new Request(request.clone(), { signal }));
        // The body is read inside the attempt, under its deadline: a body cut off or stalled is a failed
        // attempt (retried when safe), and nothing can abort after the call has returned.
        response = buffered(answer, await answer.arrayBuffer());
      } catch (error) {
        if (callerSignal.aborted) throw callerSignal.reason;
        failure = error;
      }
      const durationMs = Math.round(performance.now() - attemptStarted);
      const retryAfterMs = response ? parseRetryAfter(response.headers) : undefined;
      // The problem code decides only a 409 (in flight, or a real conflict); other bodies are left unread.
      const code = response && response.status === 409 ? await peekCode(response) : undefined;
      const decision = decideRetry(
        {
          method,
          keyed,
          status: response?.status,
          code,
          retryAfterMs,
          attempt,
          elapsedMs: performance.now() - started,
        },
        callPolicy,
      );
      emit({
        method,
        route,
        status: response?.status,
        ...(code !== undefined && { code }),
        ...(response === undefined && { error: timeout.aborted ? ('timeout' as const) : ('network' as const) }),
        attempt,
        durationMs,
        requestId,
        willRetry: decision.retry,
        retryInMs: decision.retry ? decision.delayMs : undefined,
      });
      if (decision.retry) {
        await sleep(decision.delayMs, callerSignal);
        continue;
      }
      if (response) return { response, meta: { requestId, attempts: attempt, retryAfterMs } };
      const timedOut = timeout.aborted || decision.reason === 'deadline';
      throw new ProblemError({
        status: 0,
        code: timedOut ? 'CLIENT_DEADLINE_EXCEEDED' : 'CLIENT_NETWORK_ERROR',
        requestId,
        title: timedOut ? 'Deadline exceeded' : 'No answer',
        detail: timedOut
          ? `No answer within the ${callPolicy.deadlineMs} ms deadline after ${attempt} attempt(s).`
          : `The API could not be reached after ${attempt} attempt(s).`,
        attempts: attempt,
        cause: failure,
      });
    }
  }

  function emit(event: AttemptEvent): void {
    try {
      options.onEvent?.(event);
    } catch {
      // A logging hook must never change the call's outcome.
    }
  }

  const client = { raw } as ApiClient & Record<string, unknown>;
  for (const name of METHODS) {
    const call = raw[name] as (url: string, init?: unknown) => Promise<{ error?: unknown; response: Response }>;
    const resilient = async (url: string, init?: unknown) => {
      try {
        const result = await call(url, init);
        if (result.response.ok) return result;
        const meta = metaOf.get(result.response) ?? { requestId: '', attempts: 1 };
        const requestId = result.response.headers.get('x-request-id') ?? meta.requestId;
        const error = problemFromAnswer(result.error, { status: result.response.status, ...meta, requestId });
        return { error, response: result.response };
      } catch (error) {
        if (error instanceof ProblemError) return { error, response: undefined };
        throw error;
      }
    };
    client[name] = resilient as never;
  }
  return client;
}

/** Statuses whose response may not carry a body (the Response constructor refuses one). */
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

function buffered(response: Response, body: ArrayBuffer): Response {
  return new Response(NULL_BODY_STATUSES.has(response.status) ? null : body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

async function peekCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as { code?: unknown };
    return typeof body?.code === 'string' ? body.code : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
