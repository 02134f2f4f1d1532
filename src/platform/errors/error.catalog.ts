/**
 * The one catalog of problem types. It feeds the global filter (status, title, log level),
 * `GET /problems/{slug}` (the documentation), the OpenAPI document and the README's list;
 * test/e2e/problem-catalog.e2e-spec.ts fails when any of them disagree.
 *
 * Adding a code: add an entry here, document it in the README's "Error codes" table,
 * and throw it through an {@link AppError} subclass in the feature's `<feature>.errors.ts`.
 */

export type LogLevel = 'info' | 'warn' | 'error';

export interface ProblemType {
  status: number;
  title: string;
  /** What the problem means, for the caller reading `/problems/{slug}`. */
  meaning: string;
  /** The most likely cause. */
  cause: string;
  /** What the caller should do, including whether and when to retry. */
  action: string;
  /** Whether repeating the same request unchanged can succeed. */
  retryable: boolean;
  /** Level of the filter's log line. 5xx are always `error` (with the stack). */
  logLevel: LogLevel;
  /** The `detail` sent when the thrower gives none; for 5xx, the only detail ever sent. */
  defaultDetail: string;
  /** Default `Retry-After` in seconds (429 and 503). */
  retryAfterSeconds?: number;
}

const QUOTE_ID = 'If it persists, contact support and quote the requestId.';

export const ERROR_CATALOG = {
  VALIDATION_FAILED: {
    status: 400,
    title: 'Validation failed',
    meaning:
      'The request was understood but one or more fields, query parameters, path parameters or headers break the schema of this endpoint.',
    cause:
      'A missing required field, a value of the wrong type or format, a number out of range, an unknown enum value or an unknown field.',
    action:
      'Fix every field listed in `errors` (each has a JSON `pointer` and an `in` telling where it lives) and send the request again. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The request has invalid fields.',
  },
  MALFORMED_REQUEST: {
    status: 400,
    title: 'Malformed request',
    meaning:
      'The request could not be parsed: the body is not valid JSON, the URL is malformed or the HTTP message is broken.',
    cause:
      'A truncated or hand-edited JSON body, a body sent with `Content-Type: application/json` but another encoding, or a bad percent-encoding in the URL.',
    action: 'Send well-formed JSON (UTF-8) and a valid URL. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The request could not be parsed.',
  },
  UNAUTHENTICATED: {
    status: 401,
    title: 'Unauthenticated',
    meaning: 'The endpoint needs a valid bearer token, or the credentials given were wrong.',
    cause:
      'No `Authorization: Bearer <token>` header, a malformed, expired or forged token, or a wrong email/password pair.',
    action:
      'Obtain a token from `POST /v1/auth/token` and send it as `Authorization: Bearer <token>`. Retry only with new credentials.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'A valid bearer token is required.',
  },
  FORBIDDEN: {
    status: 403,
    title: 'Forbidden',
    meaning: 'The caller is authenticated but not allowed to do this.',
    cause: 'The account lacks the permission this operation needs.',
    action: 'Do not retry; use an account that has the permission.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'You are not allowed to do this.',
  },
  ROUTE_NOT_FOUND: {
    status: 404,
    title: 'Route not found',
    meaning: 'No endpoint matches this method and path.',
    cause: 'A typo in the path, a missing `/v1` prefix, or a method the path does not support.',
    action: 'Check the path and method against `GET /openapi.json`. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'No route matches this method and path.',
  },
  PROBLEM_TYPE_NOT_FOUND: {
    status: 404,
    title: 'Problem type not found',
    meaning: 'No problem type has this slug.',
    cause: 'A `type` URI that is mistyped or from another API.',
    action: 'List every problem type with `GET /problems`. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'No problem type has this slug.',
  },
  ACCOUNT_NOT_FOUND: {
    status: 404,
    title: 'Account not found',
    meaning: 'The account does not exist (any more).',
    cause: 'The account behind the token was deleted.',
    action: 'Sign up again or use another account. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The account does not exist.',
  },
  PRODUCT_NOT_FOUND: {
    status: 404,
    title: 'Product not found',
    meaning: 'No product has this id.',
    cause: 'A wrong or stale product id.',
    action: 'List products with `GET /v1/products` to find a valid id. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'No product has this id.',
  },
  ORDER_NOT_FOUND: {
    status: 404,
    title: 'Order not found',
    meaning: 'No order with this id belongs to the caller.',
    cause: 'A wrong id, or an order of another account (which is reported the same way on purpose).',
    action: 'List your orders with `GET /v1/orders`. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'No order with this id belongs to you.',
  },
  REPORT_NOT_FOUND: {
    status: 404,
    title: 'Report not found',
    meaning: 'No report with this id belongs to the caller.',
    cause: 'A wrong id, or a report of another account.',
    action: 'Request a new report with `POST /v1/reports`. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'No report with this id belongs to you.',
  },
  EMAIL_TAKEN: {
    status: 409,
    title: 'Email already registered',
    meaning: 'An account with this email address already exists.',
    cause: 'Signing up twice, or an address someone else registered.',
    action: 'Log in with `POST /v1/auth/token`, or sign up with another address. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'An account with this email address already exists.',
  },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    title: 'Idempotency key in use',
    meaning: 'A request with this `Idempotency-Key` is still being processed.',
    cause: 'A retry sent before the first attempt finished.',
    action: "Wait and retry with the same key and body; you will get the first attempt's result.",
    retryable: true,
    logLevel: 'info',
    defaultDetail: 'A request with this Idempotency-Key is still being processed.',
  },
  PRODUCT_DISCONTINUED: {
    status: 410,
    title: 'Product discontinued',
    meaning: 'The product existed but is discontinued for good.',
    cause: 'A link or cart that still points at a retired product.',
    action: 'Remove the product from your data; it will not come back. Do not retry.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'This product is discontinued.',
  },
  PAYMENT_DECLINED: {
    status: 402,
    title: 'Payment declined',
    meaning: 'The payments provider declined the payment method.',
    cause: "Insufficient funds, a blocked card or the issuer's fraud rules.",
    action: 'Ask the customer for another payment method. Do not retry with the same one.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The payment method was declined.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    title: 'Payload too large',
    meaning: 'The request body is larger than this API accepts.',
    cause: 'A body over the limit (1 MiB by default).',
    action: 'Send a smaller body. Do not retry unchanged.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'The request body is too large.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported media type',
    meaning: 'The request body is not JSON.',
    cause: 'A missing or different `Content-Type` (form data, text, XML) on a request with a body.',
    action: 'Send the body as JSON with `Content-Type: application/json`.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'Request bodies must be sent as application/json.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    title: 'Request timeout',
    meaning: 'The request was not received completely in time.',
    cause: 'A client or network that sends the request too slowly, or stalls mid-body.',
    action: 'Retry on a healthy connection.',
    retryable: true,
    logLevel: 'info',
    defaultDetail: 'The request was not received in time.',
  },
  URI_TOO_LONG: {
    status: 414,
    title: 'URI too long',
    meaning: 'A path segment is longer than this API accepts.',
    cause: 'An id or slug far longer than any valid one.',
    action: 'Check the path; valid ids are UUIDs. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'A path parameter is too long.',
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    title: 'Request headers too large',
    meaning: 'The request headers are larger than the server accepts.',
    cause: 'Oversized cookies or tokens, or too many headers.',
    action: 'Send smaller headers. Do not retry unchanged.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'The request headers are too large.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    title: 'Idempotency key reused',
    meaning: 'This `Idempotency-Key` was already used with a different request body.',
    cause: 'A client that reuses keys across different operations.',
    action: 'Use a fresh key for every new operation; reuse a key only to retry the same request.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'This Idempotency-Key was used with a different request.',
  },
  PAYMENT_METHOD_INVALID: {
    status: 422,
    title: 'Payment method invalid',
    meaning: 'The payments provider rejected the payment token we sent on your behalf.',
    cause: 'An expired, malformed or already-used payment token.',
    action: 'Collect a new payment token and retry with it.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The payment method is invalid.',
  },
  RATE_LIMITED: {
    status: 429,
    title: 'Too many requests',
    meaning: 'The caller went over a rate limit.',
    cause: 'Too many requests in a short time from one client or for one account.',
    action: 'Wait for the number of seconds in `Retry-After`, then retry.',
    retryable: true,
    logLevel: 'warn',
    defaultDetail: 'Too many requests; retry after the Retry-After interval.',
    retryAfterSeconds: 60,
  },
  REQUEST_REJECTED: {
    status: 400,
    title: 'Request rejected',
    meaning: 'The HTTP layer rejected the request before it reached an endpoint.',
    cause: 'A request the server cannot handle as sent (for example an unacceptable header).',
    action: 'Check the request against `GET /openapi.json`. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The request was rejected.',
  },
  INTERNAL_ERROR: {
    status: 500,
    title: 'Internal error',
    meaning: 'Something failed on our side that nothing else describes: a bug.',
    cause: 'A defect in the service. It is logged with its stack under the requestId and counted.',
    action: `Retrying may not help. ${QUOTE_ID}`,
    retryable: false,
    logLevel: 'error',
    defaultDetail: `An unexpected error occurred. ${QUOTE_ID}`,
  },
  PAYMENT_PROVIDER_ERROR: {
    status: 502,
    title: 'Payment provider error',
    meaning: 'The payments provider answered with a fault, even after bounded retries.',
    cause: 'An outage or a bug at the provider.',
    action: `Retry later with the same Idempotency-Key; you will not be charged twice. ${QUOTE_ID}`,
    retryable: true,
    logLevel: 'error',
    defaultDetail: `The payments provider failed. Retry later with the same Idempotency-Key. ${QUOTE_ID}`,
  },
  DEPENDENCY_UNAVAILABLE: {
    status: 503,
    title: 'Dependency unavailable',
    meaning: 'A service this request needs (database, cache, provider) is down, or its circuit breaker is open.',
    cause: 'An outage or restart of a dependency.',
    action: `Retry after the number of seconds in \`Retry-After\`. ${QUOTE_ID}`,
    retryable: true,
    logLevel: 'error',
    defaultDetail: `A service this request depends on is temporarily unavailable. Retry after the Retry-After interval. ${QUOTE_ID}`,
    retryAfterSeconds: 5,
  },
  OVERLOADED: {
    status: 503,
    title: 'Overloaded',
    meaning: 'The service is shedding load to stay responsive.',
    cause: 'More concurrent work than the service is sized for.',
    action: `Retry after the number of seconds in \`Retry-After\`, with backoff. ${QUOTE_ID}`,
    retryable: true,
    logLevel: 'error',
    defaultDetail: `The service is overloaded. Retry after the Retry-After interval. ${QUOTE_ID}`,
    retryAfterSeconds: 2,
  },
  SHUTTING_DOWN: {
    status: 503,
    title: 'Shutting down',
    meaning: 'This instance is draining before it stops.',
    cause: 'A deploy or scale-in.',
    action: `Retry after the number of seconds in \`Retry-After\`; another instance will answer. ${QUOTE_ID}`,
    retryable: true,
    logLevel: 'error',
    defaultDetail: `This instance is shutting down. Retry after the Retry-After interval. ${QUOTE_ID}`,
    retryAfterSeconds: 1,
  },
  PAYMENT_PROVIDER_TIMEOUT: {
    status: 504,
    title: 'Payment provider timeout',
    meaning: 'The payments provider did not answer within our time budget; the payment outcome is unknown.',
    cause: 'A slow or stuck provider.',
    action: `Do not pay again: the order is kept as payment_pending and settled automatically. Check it with GET /v1/orders/{id}. ${QUOTE_ID}`,
    retryable: false,
    logLevel: 'error',
    defaultDetail: `The payments provider did not answer in time; the order is pending and will be settled. ${QUOTE_ID}`,
  },
  DEADLINE_EXCEEDED: {
    status: 504,
    title: 'Deadline exceeded',
    meaning: 'The request ran out of its time budget before it could finish.',
    cause: 'A slow dependency or an unusually heavy request.',
    action: `Retry after a short wait; for POSTs, retry with the same Idempotency-Key. ${QUOTE_ID}`,
    retryable: true,
    logLevel: 'error',
    defaultDetail: `The request did not finish within its time budget. ${QUOTE_ID}`,
  },
} as const satisfies Record<string, ProblemType>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

/** `VALIDATION_FAILED` → `validation-failed`. */
export const slugOf = (code: ErrorCode): string => code.toLowerCase().replaceAll('_', '-');

/** The `type` URI of a problem: relative, and served by `GET /problems/{slug}`. */
export const typeUriOf = (code: ErrorCode): string => `/problems/${slugOf(code)}`;

const BY_SLUG = new Map<string, ErrorCode>(ERROR_CODES.map((code) => [slugOf(code), code]));

export const codeForSlug = (slug: string): ErrorCode | undefined => BY_SLUG.get(slug);
