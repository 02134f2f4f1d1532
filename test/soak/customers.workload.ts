import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createClient, type ApiClient } from '../../client/index';
import type { Exchange, History } from './soak-history.support';
import type { Rng } from './seeded-random.support';

/**
 * The soak's customers: accounts that sign up, log in, browse, order with idempotency keys and
 * retry like a careful client (the typed client's own retries, then the customer's: the same key,
 * backoff, `Retry-After` honoured), abandon requests mid-flight and come back for the outcome,
 * ask for reports and poll them; and a small share of hostile traffic (hang-ups after a full body,
 * malformed bodies, bursts past the rate limits). Every attempt, the typed client's retries
 * included, is recorded in the {@link History} through the client's `fetch`.
 */

/** The mix of payment tokens orders are placed with (the provider's test tokens). */
export const TOKEN_MIX = {
  tok_ok: 55,
  tok_declined: 10,
  tok_flaky: 12,
  tok_slow: 6,
  tok_error: 6,
  tok_invalid: 4,
} as const;

export interface WorkloadOptions {
  baseUrl: string;
  customers: number;
  /** Target requests per second over all customers (think time is derived from it). */
  rate: number;
  productIds: string[];
  /** A product that is discontinued (410) in the catalog. */
  discontinuedId: string;
}

export interface CustomerRecord {
  name: string;
  email: string;
  password: string;
  token?: string;
  accountId?: string;
}

/** Every secret the workload used, for the checker (none may appear in a body or a log line). */
export interface WorkloadSecrets {
  emails: string[];
  passwords: string[];
  tokens: string[];
}

interface RouteMatch {
  route: string;
}

const ROUTES: [RegExp, string][] = [
  [/^\/v1\/products\/[^/]+$/, '/v1/products/{id}'],
  [/^\/v1\/orders\/[^/]+$/, '/v1/orders/{id}'],
  [/^\/v1\/reports\/[^/]+$/, '/v1/reports/{id}'],
];

function routeOf(pathname: string): RouteMatch {
  for (const [pattern, route] of ROUTES) if (pattern.test(pathname)) return { route };
  return { route: pathname };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Workload {
  readonly customers: CustomerRecord[] = [];
  private stopping = false;
  private running: Promise<void>[] = [];
  private hostileEmails: string[] = [];

  constructor(
    private readonly options: WorkloadOptions,
    private readonly history: History,
    private readonly rng: Rng,
  ) {}

  secrets(): WorkloadSecrets {
    return {
      emails: [...this.customers.map((c) => c.email), ...this.hostileEmails],
      passwords: this.customers.map((c) => c.password),
      tokens: this.customers.flatMap((c) => (c.token ? [c.token] : [])),
    };
  }

  start(): void {
    for (let i = 0; i < this.options.customers; i++) {
      const customer = new Customer(this, `c${String(i + 1).padStart(2, '0')}`, this.rng.fork(i + 1));
      this.running.push(customer.live());
    }
  }

  /** Asks every customer to finish what it is doing (an order's retries included) and waits. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  get stopped(): boolean {
    return this.stopping;
  }

  get opts(): WorkloadOptions {
    return this.options;
  }

  get log(): History {
    return this.history;
  }

  noteHostileEmail(email: string): void {
    this.hostileEmails.push(email);
  }

  /** The mean pause between two requests of one customer. */
  thinkMs(rng: Rng): number {
    const mean = (1000 * this.options.customers) / this.options.rate;
    return Math.round(mean * (0.3 + rng.next() * 1.4));
  }
}

/** Context of the attempt about to go out (set by the customer before each call). */
interface CallContext {
  op: string;
  key?: string;
}

class Customer {
  private readonly record: CustomerRecord;
  private readonly api: ApiClient;
  private context: CallContext = { op: 'start' };
  private orders = 0;
  private placed: string[] = [];

  constructor(
    private readonly workload: Workload,
    private readonly name: string,
    private readonly rng: Rng,
  ) {
    const tag = randomBytes(4).toString('hex');
    this.record = {
      name,
      email: `soak-${name}-${tag}@soak.example`,
      password: `soak-pass-${randomBytes(6).toString('hex')}`,
    };
    workload.customers.push(this.record);
    this.api = createClient({
      baseUrl: workload.opts.baseUrl,
      token: () => this.record.token,
      maxAttempts: 3,
      deadlineMs: 12_000,
      fetch: (request) => this.recorded(request),
    });
  }

  /** Every attempt the client makes goes out here: sent, answered (or not), recorded. */
  private async recorded(request: Request): Promise<Response> {
    const history = this.workload.log;
    const at = history.now();
    const started = performance.now();
    const url = new URL(request.url);
    const base: Omit<Exchange, 'seq' | 'status' | 'body' | 'durationMs'> = {
      at,
      customer: this.name,
      op: this.context.op,
      method: request.method,
      route: routeOf(url.pathname).route,
      requestId: request.headers.get('x-request-id') ?? undefined,
      idempotencyKey: request.headers.get('idempotency-key') ?? undefined,
    };
    let response: Response;
    try {
      response = await fetch(request);
    } catch (error) {
      const aborted = request.signal.aborted;
      history.record({
        ...base,
        status: 0,
        error: aborted ? (isTimeout(request.signal.reason) ? 'timeout' : 'aborted') : 'network',
        body: '',
        durationMs: Math.round(performance.now() - started),
      });
      throw error;
    }
    let text: string;
    try {
      text = await response.clone().text();
    } catch (error) {
      history.record({
        ...base,
        status: 0,
        error: request.signal.aborted ? 'aborted' : 'network',
        body: '',
        durationMs: Math.round(performance.now() - started),
      });
      throw error;
    }
    history.record({
      ...base,
      ...answerFields(response, text, url.pathname),
      durationMs: Math.round(performance.now() - started),
    });
    return response;
  }

  async live(): Promise<void> {
    try {
      if (!(await this.signUp())) return;
      while (!this.workload.stopped) {
        const action = this.rng.weighted({ browse: 25, order: 45, history: 12, report: 7, hostile: 6, login: 5 });
        await this[action]();
        await sleep(this.workload.thinkMs(this.rng));
      }
    } catch (error) {
      // A customer never dies of an exception: that would be a harness bug hiding as a quiet run.
      this.workload.log.record({
        at: this.workload.log.now(),
        customer: this.name,
        op: 'harness-error',
        method: '-',
        route: '-',
        status: 0,
        error: 'network',
        body: String(error instanceof Error ? error.stack : error).slice(0, 500),
        durationMs: 0,
      });
    }
  }

  private async signUp(): Promise<boolean> {
    for (let attempt = 0; attempt < 20 && !this.workload.stopped; attempt++) {
      this.context = { op: 'signup' };
      const created = await this.api.POST('/v1/accounts', {
        body: { email: this.record.email, password: this.record.password, name: `Soak ${this.name}` },
      });
      if (created.data) this.record.accountId = created.data.id;
      if (created.data || created.error?.code === 'EMAIL_TAKEN') {
        if (await this.login()) return true;
      }
      await sleep(backoff(this.rng, attempt, created.error?.retryAfter));
    }
    return false;
  }

  private async login(): Promise<boolean> {
    this.context = { op: 'login' };
    const { data } = await this.api.POST('/v1/auth/token', {
      body: { email: this.record.email, password: this.record.password },
    });
    if (data) this.record.token = data.accessToken;
    return data !== undefined;
  }

  private async browse(): Promise<void> {
    this.context = { op: 'browse' };
    await this.api.GET('/v1/products', { params: { query: { limit: this.rng.int(1, 20) } } });
    const { productIds, discontinuedId } = this.workload.opts;
    const id = this.rng.chance(0.1) ? discontinuedId : this.rng.pick(productIds);
    await this.api.GET('/v1/products/{id}', { params: { path: { id } } });
  }

  private async history(): Promise<void> {
    this.context = { op: 'history' };
    await this.api.GET('/v1/orders', { params: { query: { limit: 10 } } });
    if (this.placed.length > 0) {
      await this.api.GET('/v1/orders/{id}', { params: { path: { id: this.rng.pick(this.placed) } } });
    }
  }

  /**
   * One order, as a careful customer places it: one key for every try; the client's own retries,
   * then up to four more tries of the customer's (backoff, Retry-After). One order in eight is
   * abandoned mid-flight (a timeout of the customer's) and its outcome asked for later with the
   * same key, as a customer who refreshes the page does.
   */
  private async order(): Promise<void> {
    const n = ++this.orders;
    const key = `soak-${this.name}-${n}-${randomBytes(3).toString('hex')}`;
    const { productIds } = this.workload.opts;
    const lines = this.rng.int(1, 2);
    const chosen = this.rng.shuffle(productIds).slice(0, lines);
    const body = {
      items: chosen.map((productId) => ({ productId, quantity: this.rng.int(1, 3) })),
      paymentToken: this.rng.weighted(TOKEN_MIX),
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      const abandon = attempt === 0 && this.rng.chance(0.12);
      this.context = { op: attempt === 0 ? 'order' : 'order-retry', key };
      // An abort of the customer's own (AbortError), told apart from the client's deadline (TimeoutError).
      const walkAway = new AbortController();
      const timer = abandon ? setTimeout(() => walkAway.abort(), this.rng.int(30, 2_500)) : undefined;
      const signal = abandon ? walkAway.signal : undefined;
      let result: Awaited<ReturnType<ApiClient['POST']>> | undefined;
      try {
        result = await this.api.POST('/v1/orders', { body, headers: { 'Idempotency-Key': key }, signal });
      } catch {
        clearTimeout(timer);
        // Abandoned: the customer comes back for the outcome a moment later.
        await sleep(this.rng.int(200, 3_000));
        continue;
      }
      clearTimeout(timer);
      if (result.data) {
        this.placed.push(result.data.id);
        return;
      }
      const error = result.error;
      if (!error) return;
      const orderId = (error.problem as { orderId?: string } | undefined)?.orderId;
      if (orderId) this.placed.push(orderId);
      // Final answers: the customer's problem to fix, not a moment's.
      if ([400, 401, 402, 404, 410, 422].includes(error.status)) return;
      if (error.status === 409 && error.code !== 'IDEMPOTENCY_KEY_IN_USE') return;
      await sleep(backoff(this.rng, attempt, error.retryAfter));
    }
  }

  private async report(): Promise<void> {
    this.context = { op: 'report' };
    const day = this.rng.int(1, 28);
    const created = await this.api.POST('/v1/reports', {
      body: { type: 'sales-summary', from: '2026-01-01', to: `2026-12-${String(day).padStart(2, '0')}` },
    });
    const id = created.data?.id;
    if (!id) return;
    this.context = { op: 'report-poll' };
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !this.workload.stopped) {
      const { data } = await this.api.GET('/v1/reports/{id}', { params: { path: { id } } });
      if (data && (data.status === 'completed' || data.status === 'failed')) return;
      await sleep(300);
    }
  }

  private async hostile(): Promise<void> {
    const kind = this.rng.weighted({ hangup: 3, malformed: 3, burst: 1, mediaType: 1, unknownRoute: 1 });
    const { baseUrl, productIds } = this.workload.opts;
    const token = this.record.token ?? '';
    if (kind === 'hangup') {
      // A full order request (a real payment token), then the connection closed before any answer.
      const key = `soak-${this.name}-hangup-${randomBytes(4).toString('hex')}`;
      const body = JSON.stringify({
        items: [{ productId: this.rng.pick(productIds), quantity: 1 }],
        paymentToken: 'tok_ok',
      });
      await this.rawHangUp(baseUrl, key, token, body);
      return;
    }
    if (kind === 'malformed') {
      await this.raw('hostile-malformed', baseUrl, '/v1/orders', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'idempotency-key': `soak-bad-${randomBytes(4).toString('hex')}`,
        },
        body: '{"items": [{"productId": ',
      });
      return;
    }
    if (kind === 'mediaType') {
      await this.raw('hostile-media-type', baseUrl, '/v1/accounts', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'email=a@b.c',
      });
      return;
    }
    if (kind === 'unknownRoute') {
      await this.raw(
        'hostile-unknown-route',
        baseUrl,
        `/v1/nothing-here/${randomBytes(3).toString('hex')}?email=x@y.z`,
        {},
      );
      return;
    }
    // A burst of wrong passwords for one address: past the per-email login limit, 429 with Retry-After.
    const email = `burst-${randomBytes(4).toString('hex')}@soak.example`;
    this.workload.noteHostileEmail(email);
    await Promise.all(
      Array.from({ length: 25 }, () =>
        this.raw('hostile-burst', baseUrl, '/v1/auth/token', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password: 'wrong-password-123' }),
        }),
      ),
    );
  }

  /** One request outside the typed client (what a hostile or broken caller sends), recorded. */
  private async raw(op: string, baseUrl: string, path: string, init: RequestInit): Promise<void> {
    const requestId = `soak-${randomBytes(6).toString('hex')}`;
    this.context = { op };
    const request = new Request(`${baseUrl}${path}`, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), 'x-request-id': requestId },
      signal: AbortSignal.timeout(15_000),
    });
    await this.recorded(request).catch(() => undefined);
  }

  /** Writes a whole request on a socket and closes it at once: the server sees the body, nobody reads the answer. */
  private rawHangUp(baseUrl: string, key: string, token: string, body: string): Promise<void> {
    const url = new URL(baseUrl);
    const requestId = `soak-${randomBytes(6).toString('hex')}`;
    const history = this.workload.log;
    const at = history.now();
    return new Promise((resolve) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) }, () => {
        socket.end(
          [
            'POST /v1/orders HTTP/1.1',
            `Host: ${url.host}`,
            'Content-Type: application/json',
            `Content-Length: ${Buffer.byteLength(body)}`,
            `Authorization: Bearer ${token}`,
            `Idempotency-Key: ${key}`,
            `X-Request-Id: ${requestId}`,
            '',
            body,
          ].join('\r\n'),
          () => socket.destroy(),
        );
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        history.record({
          at,
          customer: this.name,
          op: 'hostile-hangup',
          method: 'POST',
          route: '/v1/orders',
          requestId,
          idempotencyKey: key,
          status: 0,
          error: 'hung-up',
          body: '',
          durationMs: history.now() - at,
        });
        resolve();
      });
    });
  }
}

function isTimeout(reason: unknown): boolean {
  return reason instanceof DOMException && reason.name === 'TimeoutError';
}

/** Backoff of a customer's own retries: `Retry-After` when the API said one, else capped exponential with jitter. */
function backoff(rng: Rng, attempt: number, retryAfterSeconds: number | undefined): number {
  if (retryAfterSeconds !== undefined) return Math.min(retryAfterSeconds, 10) * 1000;
  return Math.min(4_000, 250 * 2 ** attempt) * (0.5 + rng.next() / 2);
}

/** What an answer says, parsed once: status, problem code, the order or report it is about. */
function answerFields(
  response: Response,
  text: string,
  pathname: string,
): Partial<Exchange> & { status: number; body: string } {
  const fields: Partial<Exchange> & { status: number; body: string } = {
    status: response.status,
    body: response.status >= 400 ? text : text.slice(0, 240),
    retryAfter: response.headers.get('retry-after'),
    contentType: response.headers.get('content-type'),
    responseRequestId: response.headers.get('x-request-id'),
  };
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  if (!json || typeof json !== 'object') return fields;
  if (typeof json.code === 'string') fields.code = json.code;
  if (typeof json.orderId === 'string') fields.orderId = json.orderId;
  if (typeof json.orderStatus === 'string') fields.orderStatus = json.orderStatus;
  if (
    response.ok &&
    pathname.startsWith('/v1/orders') &&
    typeof json.id === 'string' &&
    typeof json.status === 'string'
  ) {
    fields.orderId = json.id;
    fields.orderStatus = json.status;
  }
  if (response.ok && pathname.startsWith('/v1/reports') && typeof json.id === 'string') {
    fields.reportId = json.id;
    if (typeof json.status === 'string') fields.reportStatus = json.status;
  }
  return fields;
}
