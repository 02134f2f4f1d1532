import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A stand-in payments provider, in the style of real ones (test tokens, idempotency keys),
 * for development and tests. Plain node:http: it must stay independent of the API it fakes.
 *
 * Provider API:
 * - `POST /v1/charges` with `Idempotency-Key` and `{amountCents, currency, token, reference}`:
 *   one charge per key; the same key again returns the same answer (a replay).
 * - `GET /v1/charges/by-key/{key}`: the charge made under a key (200, `status` succeeded|failed)
 *   or 404 `charge_not_found`: what reconciliation asks.
 * Test hooks (never affected by outage modes, except `down`):
 * - `GET /__admin/charges/{key}`: `{requests, charges}` seen for a key;
 *   `GET /__admin/charges?reference=...`: every charge for a reference (any key);
 *   `GET /__admin/charges` (no reference): every charge made, with `{requests, charges}` per key
 *   (what the soak's invariant checker reads: test/soak);
 * - `PUT /__admin/outage` `{mode, delayMs?, retryAfterSeconds?, times?}`, `DELETE /__admin/outage`;
 * - `PUT /__admin/hold/{charges|lookups}`: every answer of that kind is decided when its request
 *   arrives (a charge is made, a lookup reads what exists then) and held until
 *   `DELETE /__admin/hold/{kind}` releases them; `GET /__admin/hold/{kind}` says how many wait.
 *   What race tests use to order two callers exactly, with no timing luck;
 * - `GET /health`.
 * Every request is logged as one JSON line (the `log` option; stdout by default) with the
 * `X-Request-Id` and `traceparent` it came with (`requestId`, `traceparent`): what the
 * correlation tests read to see what an outbound call passed on.
 */

export const FAKE_TOKENS = ['tok_ok', 'tok_declined', 'tok_invalid', 'tok_error', 'tok_flaky', 'tok_slow'] as const;

/**
 * Switchable failures of the whole provider, for tests:
 * - `down`: every connection is closed without an answer (a crash; for a real refusal stop the server);
 * - `slow`: every answer waits `delayMs` (the charge is made at once: a late answer, not a late charge);
 * - `error`: 500 (or `status`) before any charge is made;
 * - `rate-limited`: 429 with `Retry-After: retryAfterSeconds`, before any charge;
 * - `truncated`: the charge is made, then the JSON body is cut in half (a complete HTTP message);
 * - `malformed`: the charge is made, then 200 with a body of the wrong shape;
 * - `reset`: the charge is made, then the connection is destroyed mid-body.
 * `times` limits the mode to the next N charge requests; then the provider is healthy again.
 */
export type OutageMode =
  | { mode: 'none' }
  | { mode: 'down'; times?: number }
  | { mode: 'slow'; delayMs: number; times?: number }
  | { mode: 'error'; status?: number; times?: number }
  /** `retryAfterSeconds` as a number, or as the header's raw text (a 400-digit number, an HTTP-date). */
  | { mode: 'rate-limited'; retryAfterSeconds: number | string; times?: number }
  | { mode: 'truncated'; times?: number }
  | { mode: 'malformed'; times?: number }
  | { mode: 'reset'; times?: number };

export interface FakeProviderOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** How long `tok_slow` holds its answer (ms). */
  slowTokenDelayMs?: number;
  /** Receives one JSON object per request (method, path, status, `requestId`, `traceparent`; default: written to stdout). */
  log?: (line: Record<string, unknown>) => void;
}

export interface FakeCharge {
  id: string;
  status: 'succeeded' | 'failed';
  amountCents: number;
  currency: string;
  reference: string;
  idempotencyKey: string;
  failureCode?: string;
  createdAt: string;
}

/** One idempotency key as the provider saw it: for checkers that compare the provider with the orders. */
export interface ChargeLedgerEntry {
  idempotencyKey: string;
  requests: number;
  charges: number;
  charge?: FakeCharge;
}

interface KeyRecord {
  requests: number;
  /** Charges created under this key: more than 1 would be a double charge. */
  charges: number;
  charge?: FakeCharge;
  answer?: { status: number; body: unknown };
}

/** What {@link FakeProviderHandle.hold} can hold: charge answers, or lookup (`GET /v1/charges/by-key`) answers. */
export type HeldKind = 'charges' | 'lookups';

export interface FakeProviderHandle {
  readonly url: string;
  readonly port: number;
  setOutage(outage: OutageMode): void;
  /**
   * From now on, answers of `kind` are decided on arrival and held until {@link release}
   * (a deterministic interleaving: "the lookup has read `charge_not_found`, and has not answered yet").
   */
  hold(kind: HeldKind): void;
  /** Sends every held answer of `kind` and stops holding. */
  release(kind: HeldKind): void;
  /** How many answers of `kind` are held now. */
  heldCount(kind: HeldKind): number;
  /** Charge requests and charges made under one idempotency key. */
  statsFor(key: string): { requests: number; charges: number };
  /** Every charge made for a reference (an order), whatever key it came with. */
  chargesForReference(reference: string): FakeCharge[];
  /** Every key that saw a charge request: its stats and the charge made under it (if any). */
  ledger(): ChargeLedgerEntry[];
  /** Stops listening and drops every connection (pending slow answers included). */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;

/**
 * Starts the fake provider.
 * @example const provider = await startFakeProvider({ port: 0, slowTokenDelayMs: 3_000 });
 */
export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProviderHandle> {
  const log = options.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  const slowTokenDelayMs = options.slowTokenDelayMs ?? 10_000;
  const keys = new Map<string, KeyRecord>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let outage: OutageMode = { mode: 'none' };
  /** Answers decided and waiting for a release, by kind; absent while that kind is not held. */
  const held = new Map<HeldKind, (() => void)[]>();
  const hold = (kind: HeldKind) => void (held.has(kind) || held.set(kind, []));
  const release = (kind: HeldKind) => {
    const waiting = held.get(kind) ?? [];
    held.delete(kind);
    for (const send of waiting) send();
  };
  /** Sends now, or later when `kind` is held (a client that hung up meanwhile gets nothing). */
  const answerOrHold = (kind: HeldKind, res: ServerResponse, respond: () => void) => {
    const queue = held.get(kind);
    if (!queue) return respond();
    queue.push(() => {
      if (!res.destroyed) respond();
    });
  };

  const record = (key: string): KeyRecord => {
    let entry = keys.get(key);
    if (!entry) keys.set(key, (entry = { requests: 0, charges: 0 }));
    return entry;
  };

  /** The outage that applies to this charge request, counting down `times`. */
  const takeOutage = (): OutageMode => {
    const current = outage;
    if (current.mode !== 'none' && current.times !== undefined) {
      if (current.times <= 1) outage = { mode: 'none' };
      else outage = { ...current, times: current.times - 1 };
    }
    return current;
  };

  const later = (ms: number, res: ServerResponse, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
    res.once('close', () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  const error = (res: ServerResponse, status: number, type: string, code: string, message: string) =>
    send(res, status, { error: { type, code, message } });

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new Error('body too large');
      chunks.push(chunk);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  }

  /** Decides the answer to a charge request by token; makes (and remembers) the charge. */
  function charge(key: string, body: Record<string, unknown>): { status: number; body: unknown; made: boolean } {
    const entry = record(key);
    if (entry.answer) return { ...entry.answer, made: false };
    const token = body.token;
    const base = {
      amountCents: body.amountCents as number,
      currency: body.currency as string,
      reference: body.reference as string,
      idempotencyKey: key,
      createdAt: new Date().toISOString(),
    };
    if (token === 'tok_invalid' || !FAKE_TOKENS.includes(token as (typeof FAKE_TOKENS)[number])) {
      return {
        status: 400,
        body: { error: { type: 'invalid_request_error', code: 'invalid_token', message: 'No such payment token.' } },
        made: false,
      };
    }
    if (token === 'tok_error') {
      return {
        status: 500,
        body: { error: { type: 'api_error', code: 'internal', message: 'Internal error.' } },
        made: false,
      };
    }
    if (token === 'tok_flaky' && entry.requests === 1) {
      return {
        status: 500,
        body: { error: { type: 'api_error', code: 'internal', message: 'Internal error.' } },
        made: false,
      };
    }
    const made: FakeCharge =
      token === 'tok_declined'
        ? { id: `ch_${randomUUID()}`, status: 'failed', failureCode: 'card_declined', ...base }
        : { id: `ch_${randomUUID()}`, status: 'succeeded', ...base };
    entry.charge = made;
    entry.charges += 1;
    entry.answer =
      made.status === 'failed'
        ? {
            status: 402,
            body: {
              error: { type: 'card_error', code: 'card_declined', message: 'The card was declined.', charge: made },
            },
          }
        : { status: 200, body: made };
    return { ...entry.answer, made: true };
  }

  async function handleCharge(req: IncomingMessage, res: ServerResponse, line: Record<string, unknown>) {
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key.length < 1 || key.length > 255) {
      return error(res, 400, 'invalid_request_error', 'idempotency_key_required', 'Idempotency-Key is required.');
    }
    line.idempotencyKey = key;
    let body: Record<string, unknown>;
    try {
      body = (await readJson(req)) as Record<string, unknown>;
    } catch {
      return error(res, 400, 'invalid_request_error', 'invalid_json', 'The body is not valid JSON.');
    }
    if (
      !body ||
      typeof body !== 'object' ||
      !Number.isSafeInteger(body.amountCents) ||
      (body.amountCents as number) <= 0 ||
      typeof body.currency !== 'string' ||
      !/^[A-Z]{3}$/.test(body.currency) ||
      typeof body.token !== 'string' ||
      typeof body.reference !== 'string'
    ) {
      return error(
        res,
        400,
        'invalid_request_error',
        'invalid_request',
        'amountCents, currency, token and reference are required.',
      );
    }
    const current = takeOutage();
    line.outage = current.mode;
    if (current.mode === 'error') {
      return error(res, current.status ?? 500, 'api_error', 'outage', 'Service unavailable.');
    }
    if (current.mode === 'rate-limited') {
      res.setHeader('retry-after', String(current.retryAfterSeconds));
      return error(res, 429, 'rate_limit_error', 'rate_limited', 'Too many requests.');
    }
    const entry = record(key);
    entry.requests += 1;
    const answer = charge(key, body);
    line.replayed = !answer.made && entry.charge !== undefined;
    const delayMs = current.mode === 'slow' ? current.delayMs : body.token === 'tok_slow' ? slowTokenDelayMs : 0;
    const respond = () => {
      if (current.mode === 'truncated') {
        const text = JSON.stringify(answer.body);
        const cut = text.slice(0, Math.floor(text.length / 2));
        res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(cut) });
        return res.end(cut);
      }
      if (current.mode === 'malformed') return send(res, 200, { ok: true, charge: 'maybe' });
      if (current.mode === 'reset') {
        const text = JSON.stringify(answer.body);
        res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, 10));
        // Let the partial body reach the socket, then kill the connection mid-response.
        return void setImmediate(() => res.socket?.destroy());
      }
      send(res, answer.status, answer.body);
    };
    const respondOrHold = () => answerOrHold('charges', res, respond);
    if (delayMs > 0) later(delayMs, res, respondOrHold);
    else respondOrHold();
  }

  function handleLookup(res: ServerResponse, key: string) {
    // Read now, answered now or when released: a held lookup reports what existed when it arrived.
    const charge = keys.get(key)?.charge;
    answerOrHold('lookups', res, () =>
      charge
        ? send(res, 200, charge)
        : error(res, 404, 'invalid_request_error', 'charge_not_found', 'No charge for this key.'),
    );
  }

  function handleAdmin(req: IncomingMessage, res: ServerResponse, url: URL) {
    if (url.pathname === '/__admin/outage' && req.method === 'DELETE') {
      outage = { mode: 'none' };
      return send(res, 200, outage);
    }
    if (url.pathname === '/__admin/outage' && req.method === 'PUT') {
      return void readJson(req).then(
        (body) => {
          outage = body as OutageMode;
          send(res, 200, outage);
        },
        () => error(res, 400, 'invalid_request_error', 'invalid_json', 'The body is not valid JSON.'),
      );
    }
    if (url.pathname === '/__admin/charges' && req.method === 'GET') {
      const reference = url.searchParams.get('reference');
      if (reference === null) return send(res, 200, { keys: ledger() });
      return send(res, 200, { charges: chargesForReference(reference) });
    }
    const holdMatch = /^\/__admin\/hold\/(charges|lookups)$/.exec(url.pathname);
    if (holdMatch) {
      const kind = holdMatch[1] as HeldKind;
      if (req.method === 'PUT') hold(kind);
      else if (req.method === 'DELETE') release(kind);
      return send(res, 200, { held: held.has(kind), waiting: held.get(kind)?.length ?? 0 });
    }
    const keyMatch = /^\/__admin\/charges\/(.+)$/.exec(url.pathname);
    if (keyMatch && req.method === 'GET') return send(res, 200, statsFor(decodeURIComponent(keyMatch[1])));
    return error(res, 404, 'invalid_request_error', 'not_found', 'No such route.');
  }

  const statsFor = (key: string) => {
    const entry = keys.get(key);
    return { requests: entry?.requests ?? 0, charges: entry?.charges ?? 0 };
  };
  const ledger = (): ChargeLedgerEntry[] =>
    [...keys].map(([idempotencyKey, entry]) => ({
      idempotencyKey,
      requests: entry.requests,
      charges: entry.charges,
      ...(entry.charge && { charge: entry.charge }),
    }));
  const chargesForReference = (reference: string) =>
    [...keys.values()].flatMap((entry) => (entry.charge?.reference === reference ? [entry.charge] : []));

  const server: Server = createServer((req, res) => {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://fake-provider');
    const line: Record<string, unknown> = {
      level: 'info',
      time: Date.now(),
      msg: 'fake provider request',
      requestId: req.headers['x-request-id'],
      traceparent: req.headers.traceparent,
      method: req.method,
      path: url.pathname,
    };
    res.once('close', () => {
      line.statusCode = res.writableFinished ? res.statusCode : undefined;
      line.aborted = !res.writableFinished;
      line.responseTimeMs = Math.round(performance.now() - started);
      log(line);
    });
    if (outage.mode === 'down' && !url.pathname.startsWith('/__admin/')) {
      takeOutage();
      return void req.socket.destroy();
    }
    if (url.pathname === '/health') return send(res, 200, { status: 'ok' });
    if (url.pathname.startsWith('/__admin/')) return handleAdmin(req, res, url);
    if (url.pathname === '/v1/charges' && req.method === 'POST') {
      return void handleCharge(req, res, line).catch(() => {
        if (!res.headersSent) error(res, 500, 'api_error', 'internal', 'Internal error.');
      });
    }
    const lookup = /^\/v1\/charges\/by-key\/(.+)$/.exec(url.pathname);
    if (lookup && req.method === 'GET') return handleLookup(res, decodeURIComponent(lookup[1]));
    error(res, 404, 'invalid_request_error', 'not_found', 'No such route.');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    setOutage: (next) => (outage = next),
    hold,
    release,
    heldCount: (kind) => held.get(kind)?.length ?? 0,
    statsFor,
    chargesForReference,
    ledger,
    close: async () => {
      held.clear();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
