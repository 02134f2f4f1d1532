import Redis from 'ioredis';
import { repeatedKeys } from '../support/log-keys.support';
import { withSoakClient, SOAK_APPLICATION_NAME } from './faults.scheduler';
import type { Exchange, History } from './soak-history.support';
import type { SoakTopology } from './soak.topology';
import type { WorkloadSecrets } from './customers.workload';

/**
 * The invariants, checked over the whole history and the final state. Each is a count of
 * violations with a few examples; an example names the ids that {@link History.slice} turns into
 * the minimal history that shows it.
 */
export interface InvariantResult {
  name: string;
  /** One line: what it checks. */
  checks: string;
  violations: number;
  examples: { text: string; ids: string[] }[];
}

export interface FinalState {
  orders: { id: string; status: string; totalCents: number; currency: string; attentionReason: string | null }[];
  items: { orderId: string; productId: string; quantity: number }[];
  stock: Map<string, number>;
  reports: { id: string; status: string; error: string | null }[];
}

const MAX_EXAMPLES = 5;

class Tally {
  readonly result: InvariantResult;
  constructor(name: string, checks: string) {
    this.result = { name, checks, violations: 0, examples: [] };
  }
  add(text: string, ids: (string | undefined)[] = []): void {
    this.result.violations += 1;
    if (this.result.examples.length < MAX_EXAMPLES) {
      this.result.examples.push({ text, ids: ids.filter((id): id is string => typeof id === 'string') });
    }
  }
}

const TERMINAL = new Set(['paid', 'payment_failed', 'needs_attention']);
/** Order statuses that hold their items out of stock. */
const HOLDS_STOCK = new Set(['paid', 'payment_pending', 'needs_attention']);

export async function readFinalState(databaseUrl: string): Promise<FinalState> {
  return withSoakClient(databaseUrl, async (c) => {
    const orders = await c.query(
      `SELECT id, status, total_cents::float8 AS "totalCents", currency, attention_reason AS "attentionReason" FROM orders`,
    );
    const items = await c.query(`SELECT order_id AS "orderId", product_id AS "productId", quantity FROM order_items`);
    const products = await c.query<{ id: string; stock: number }>(`SELECT id, stock FROM products`);
    const reports = await c.query(`SELECT id, status, error FROM reports`);
    return {
      orders: orders.rows,
      items: items.rows,
      stock: new Map(products.rows.map((p) => [p.id, p.stock])),
      reports: reports.rows,
    } as FinalState;
  });
}

/** Over the final state and the provider's ledger: charges, stock, settlement, reports. */
export async function checkState(
  topology: SoakTopology,
  history: History,
  state: FinalState,
  initialStock: Map<string, number>,
): Promise<InvariantResult[]> {
  const ledger = await topology.provider.ledger();
  const orders = new Map(state.orders.map((o) => [o.id, o]));

  const charges = new Tally(
    'charges-match-orders',
    'each succeeded charge belongs to one order, which is paid (or handed over: needs_attention) for that amount; no order paid without one',
  );
  const twice = new Tally('never-charged-twice', 'one charge per idempotency key, one succeeded charge per order');
  const succeededByOrder = new Map<string, number>();
  for (const entry of ledger) {
    if (entry.charges > 1)
      twice.add(`key ${entry.idempotencyKey}: ${entry.charges} charges`, [entry.charge?.reference]);
    const charge = entry.charge;
    if (!charge || charge.status !== 'succeeded') continue;
    succeededByOrder.set(charge.reference, (succeededByOrder.get(charge.reference) ?? 0) + 1);
    const order = orders.get(charge.reference);
    if (!order) charges.add(`charge ${charge.id} for ${charge.reference}: no such order`, [charge.reference]);
    else if (order.status !== 'paid' && order.status !== 'needs_attention') {
      charges.add(`order ${order.id} is ${order.status} but charge ${charge.id} succeeded`, [order.id]);
    } else if (charge.amountCents !== order.totalCents || charge.currency !== order.currency) {
      charges.add(
        `order ${order.id}: ${order.totalCents} ${order.currency} charged ${charge.amountCents} ${charge.currency}`,
        [order.id],
      );
    }
  }
  for (const [orderId, n] of succeededByOrder)
    if (n > 1) twice.add(`order ${orderId}: ${n} succeeded charges`, [orderId]);
  for (const order of state.orders) {
    if (order.status === 'paid' && !succeededByOrder.has(order.id)) {
      charges.add(`order ${order.id} is paid without a succeeded charge`, [order.id]);
    }
  }

  const stock = new Tally(
    'stock-conserved',
    'initial stock = current stock + items of paid, pending and handed-over orders',
  );
  const held = new Map<string, number>();
  for (const item of state.items) {
    if (HOLDS_STOCK.has(orders.get(item.orderId)?.status ?? '')) {
      held.set(item.productId, (held.get(item.productId) ?? 0) + item.quantity);
    }
  }
  for (const [productId, initial] of initialStock) {
    const now = state.stock.get(productId) ?? 0;
    const taken = held.get(productId) ?? 0;
    if (initial !== now + taken) {
      const released = state.items
        .filter((i) => i.productId === productId && orders.get(i.orderId)?.status === 'payment_failed')
        .map((i) => i.orderId);
      stock.add(
        `product ${productId}: initial ${initial} ≠ ${now} in stock + ${taken} in orders (${initial - now - taken > 0 ? 'lost' : 'created'} ${Math.abs(initial - now - taken)})`,
        released.slice(0, 3),
      );
    }
  }

  const settled = new Tally(
    'orders-settled',
    'every order paid, payment_failed or needs_attention (with a reason) once faults stop',
  );
  for (const order of state.orders) {
    if (!TERMINAL.has(order.status)) settled.add(`order ${order.id} still ${order.status}`, [order.id]);
    else if (order.status === 'needs_attention' && !order.attentionReason) {
      settled.add(`order ${order.id} needs_attention without a reason`, [order.id]);
    }
  }

  const agree = new Tally(
    'answers-agree',
    'a 201 means the order ended paid; an answer stating a settled status matches the final one',
  );
  for (const e of history.exchanges) {
    if (!e.orderId || !e.orderStatus || e.status === 0) continue;
    const final = orders.get(e.orderId);
    if (!final) {
      agree.add(`#${e.seq} answered about order ${e.orderId}, which does not exist`, [e.orderId, e.idempotencyKey]);
      continue;
    }
    if (e.status === 201 && final.status !== 'paid') {
      agree.add(`#${e.seq} 201 for order ${e.orderId}, which ended ${final.status}`, [e.orderId, e.idempotencyKey]);
    } else if (e.orderStatus === 'paid' && final.status !== 'paid') {
      agree.add(`#${e.seq} said order ${e.orderId} paid; it ended ${final.status}`, [e.orderId]);
    } else if (e.orderStatus === 'payment_failed' && final.status !== 'payment_failed') {
      agree.add(`#${e.seq} said order ${e.orderId} payment_failed; it ended ${final.status}`, [e.orderId]);
    }
  }

  // A key's replayable outcome is its stored answer (every 2xx and 4xx, and any answer once an order
  // may have been charged): one order, one status. A 5xx about an order settled `payment_failed`
  // with nothing charged releases the key by design (the interceptor detaches the order) and a retry
  // runs afresh: such an order may precede the key's real one, but must have ended failed, uncharged.
  const replay = new Tally(
    'replays-consistent',
    "one key's stored answers name one order with one status; any earlier order of the key (released by a 5xx) ended payment_failed",
  );
  const byKey = new Map<string, { stored: Set<string>; claims: Set<string>; all: Set<string> }>();
  for (const e of history.exchanges) {
    if (e.method !== 'POST' || e.route !== '/v1/orders' || !e.idempotencyKey || !e.orderId || e.status === 0) continue;
    const entry = byKey.get(e.idempotencyKey) ?? { stored: new Set(), claims: new Set(), all: new Set() };
    entry.all.add(e.orderId);
    // Released (not stored) only: a 5xx about an order settled payment_failed, nothing charged.
    if (e.status < 500 || e.orderStatus !== 'payment_failed') {
      entry.stored.add(e.orderId);
      const claim = e.status === 201 ? 'paid' : e.orderStatus;
      if (claim === 'paid' || claim === 'payment_failed') entry.claims.add(claim);
    }
    byKey.set(e.idempotencyKey, entry);
  }
  for (const [key, { stored, claims, all }] of byKey) {
    if (stored.size > 1) replay.add(`key ${key} answered with ${stored.size} different orders`, [key]);
    if (claims.size > 1) replay.add(`key ${key} answered ${[...claims].join(' and ')}`, [key]);
    const live = [...all].filter((id) => orders.get(id)?.status !== 'payment_failed');
    if (live.length > 1) replay.add(`key ${key} has ${live.length} orders not failed: ${live.join(', ')}`, [key]);
  }

  const reports = new Tally('reports-finish', 'every report ends completed, or failed with a reason');
  for (const r of state.reports) {
    if (r.status !== 'completed' && r.status !== 'failed') reports.add(`report ${r.id} still ${r.status}`, [r.id]);
    else if (r.status === 'failed' && !r.error) reports.add(`report ${r.id} failed without a reason`, [r.id]);
  }

  const progress = new Tally(
    'workload-progressed',
    'the run did real work: orders paid and declined, reports completed',
  );
  const paid = state.orders.filter((o) => o.status === 'paid').length;
  if (paid === 0) progress.add('no order was paid');
  if (!state.orders.some((o) => o.status === 'payment_failed'))
    progress.add('no order failed (declined tokens are in the mix)');
  if (!state.reports.some((r) => r.status === 'completed')) progress.add('no report completed');

  return [charges, twice, stock, settled, agree, replay, reports, progress].map((t) => t.result);
}

const STACK = /\n\s+at |\bat [\w.<>]+ \(|[\w/.-]+\.(?:ts|js):\d+:\d+/;
const SQL =
  /\b(?:SELECT\s.+\sFROM|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b|duplicate key value|violates .* constraint|relation "|syntax error at/i;
const PATHS = /\/(?:work|home|usr|app|src|dist|node_modules)\//;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z.]{2,}/;
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./;

/** Over every answer the workload saw. */
export function checkAnswers(history: History, secrets: WorkloadSecrets, hangBoundMs: number): InvariantResult[] {
  const no500 = new Tally('no-500', 'no answer is a 500');
  const problems = new Tally(
    'problem-answers',
    'every answer carries X-Request-Id; every >= 400 is application/problem+json with code, status and that requestId; 429/503 carry an integer Retry-After',
  );
  const leaks = new Tally('no-leak-in-answers', 'no stack, SQL, file path, email, password or token in a failure body');
  const hangs = new Tally('no-hang', `no attempt left unanswered beyond ${hangBoundMs} ms`);
  const harness = new Tally('harness-healthy', 'the workload itself never failed (a broken harness proves nothing)');
  const passwords = secrets.passwords;
  for (const e of history.exchanges) {
    if (e.op === 'harness-error') {
      harness.add(`${e.customer}: ${e.body.split('\n')[0]}`);
      continue;
    }
    const ids = [e.requestId, e.idempotencyKey, e.orderId];
    if (e.status === 0) {
      if (e.error === 'timeout' || e.durationMs > hangBoundMs) {
        hangs.add(`#${e.seq} ${e.method} ${e.route}: no answer after ${e.durationMs} ms (${e.error})`, ids);
      }
      continue;
    }
    if (e.durationMs > hangBoundMs)
      hangs.add(`#${e.seq} ${e.method} ${e.route}: ${e.status} after ${e.durationMs} ms`, ids);
    if (e.status === 500) no500.add(`#${e.seq} ${e.method} ${e.route} → 500 ${e.code ?? ''}`, ids);
    if (!e.responseRequestId) problems.add(`#${e.seq} ${e.method} ${e.route} → ${e.status} without X-Request-Id`, ids);
    if (e.status >= 400) {
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(e.body) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      const why = !e.contentType?.startsWith('application/problem+json')
        ? `content-type ${e.contentType}`
        : !body || typeof body.code !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(body.code)
          ? 'no problem code'
          : body.status !== e.status
            ? `body status ${String(body.status)}`
            : body.requestId !== e.responseRequestId
              ? 'requestId differs from the header'
              : (e.status === 429 || e.status === 503) && !/^\d+$/.test(e.retryAfter ?? '')
                ? `Retry-After ${e.retryAfter}`
                : undefined;
      if (why) problems.add(`#${e.seq} ${e.method} ${e.route} → ${e.status}: ${why}`, ids);
      const leak = STACK.test(e.body)
        ? 'a stack'
        : SQL.test(e.body)
          ? 'SQL'
          : PATHS.test(e.body)
            ? 'a file path'
            : EMAIL.test(e.body)
              ? 'an email'
              : JWT.test(e.body)
                ? 'a token'
                : passwords.some((p) => e.body.includes(p))
                  ? 'a password'
                  : undefined;
      if (leak) leaks.add(`#${e.seq} ${e.method} ${e.route} → ${e.status} carries ${leak}`, ids);
    }
  }
  return [no500, problems, leaks, hangs, harness].map((t) => t.result);
}

/** Over every log line of every process: no personal data, no token, no repeated key; each report completed once. */
export function checkLogs(
  topology: SoakTopology,
  secrets: WorkloadSecrets,
): { results: InvariantResult[]; lines: number; recomputed: number } {
  const personal = new Tally(
    'no-personal-data-in-logs',
    'no email, password or bearer token in any log line; no key repeated in one line',
  );
  // Report jobs run at least once (a stalled job is taken over, the sweeper re-enqueues): a second
  // run may recompute a report, and its guarded UPDATE stores nothing (`stored: false`). What must
  // never happen is a second stored completion.
  const once = new Tally(
    'jobs-complete-once',
    'no report completion is stored twice (recomputations storing nothing are counted apart)',
  );
  const completed = new Map<string, number>();
  let recomputed = 0;
  const lines = topology.logLines();
  const passwords = secrets.passwords;
  for (const { source, text } of lines) {
    const what = EMAIL.test(text)
      ? 'an email'
      : JWT.test(text)
        ? 'a bearer token'
        : passwords.some((p) => text.includes(p))
          ? 'a password'
          : repeatedKeys(text).length > 0
            ? `a repeated key (${repeatedKeys(text).join(', ')})`
            : undefined;
    let line: { msg?: string; reportId?: string; requestId?: string; stored?: boolean } = {};
    try {
      line = JSON.parse(text) as typeof line;
    } catch {
      personal.add(`${source}: a line that is not JSON: ${text.slice(0, 120)}`);
      continue;
    }
    if (what) personal.add(`${source}: "${line.msg}" carries ${what}`, [line.requestId]);
    if (line.msg === 'report completed' && line.reportId) {
      if (line.stored === false) recomputed += 1;
      else completed.set(line.reportId, (completed.get(line.reportId) ?? 0) + 1);
    }
  }
  for (const [reportId, n] of completed)
    if (n > 1) once.add(`report ${reportId} stored as completed ${n} times`, [reportId]);
  return { results: [personal.result, once.result], lines: lines.length, recomputed };
}

/** Reads one gauge's samples from a Prometheus text page (label filter as a substring). */
function gauge(page: string, name: string, labels = ''): number[] {
  return page
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => l.includes(labels))
    .map((l) => Number(l.split(' ').pop()));
}

/**
 * At rest, once the workload stopped and every order settled: in-flight gauges back to zero, no
 * connection left busy or in a transaction, no advisory lock held, no Redis key without a TTL
 * that is not one of the queue's own structures. Polled for a while first: "at rest" comes a
 * moment after the last answer.
 */
export async function checkAtRest(topology: SoakTopology, waitMs = 15_000): Promise<InvariantResult[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const results = await atRestOnce(topology);
    if (results.every((r) => r.violations === 0) || Date.now() > deadline) return results;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function atRestOnce(topology: SoakTopology): Promise<InvariantResult[]> {
  const gauges = new Tally(
    'at-rest-gauges',
    'http_server_active_requests <= 1 (the scrape), no pooled connection used, nobody waiting for one',
  );
  for (const p of [...topology.apis, ...topology.workers]) {
    const page = await fetch(p.metricsUrl).then(
      (r) => r.text(),
      (error: unknown) => `unreachable: ${String(error)}`,
    );
    if (page.startsWith('unreachable')) {
      gauges.add(`${p.name}: /metrics ${page}`);
      continue;
    }
    const active = gauge(page, 'http_server_active_requests');
    if (active.some((v) => v > 1)) gauges.add(`${p.name}: http_server_active_requests ${active.join(',')}`);
    const used = gauge(page, 'db_client_connection_count', 'state="used"');
    if (used.some((v) => v > 0)) gauges.add(`${p.name}: db_client_connection_count{state="used"} ${used.join(',')}`);
    const pending = gauge(page, 'db_client_connection_pending_requests');
    if (pending.some((v) => v > 0)) gauges.add(`${p.name}: db_client_connection_pending_requests ${pending.join(',')}`);
  }

  const connections = new Tally(
    'at-rest-connections',
    "no app session idle in a transaction or busy; no more sessions than the pools allow (fleet: the pooler's pool)",
  );
  const locks = new Tally('at-rest-advisory-locks', 'no advisory lock held');
  await withSoakClient(topology.databaseUrl, async (c) => {
    const { rows } = await c.query<{ pid: number; state: string; query: string; application_name: string }>(
      `SELECT pid, state, left(query, 60) AS query, application_name FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name NOT LIKE '${SOAK_APPLICATION_NAME}%'`,
    );
    for (const r of rows) {
      if (r.state !== 'idle') connections.add(`backend ${r.pid} (${r.application_name}) ${r.state}: ${r.query}`);
    }
    if (rows.length > topology.maxAppConnections) {
      connections.add(`${rows.length} sessions, more than the pools' ${topology.maxAppConnections}`);
    }
    const held = await c.query<{ pid: number; objid: string }>(
      `SELECT l.pid, l.objid::text FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND d.datname = current_database()`,
    );
    for (const l of held.rows) locks.add(`advisory lock ${l.objid} held by backend ${l.pid}`);
  });

  const pooler = new Tally(
    'at-rest-pooler',
    "the pooler's own view (SHOW POOLS, SHOW CLIENTS): no client waiting, no server connection active, none over the pool size",
  );
  if (topology.pooler) for (const problem of await topology.pooler.problemsAtRest()) pooler.add(problem);

  const orphans = new Tally('at-rest-redis-keys', "every Redis key has a TTL, or is one of the queue's own structures");
  if (topology.redis) {
    const redis = new Redis(topology.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          if (isQueueStructure(key, topology.redis.keyPrefix)) continue;
          const ttl = await redis.pttl(key);
          if (ttl === -1) orphans.add(`${key} has no TTL`);
        }
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }
  return [gauges, connections, pooler, locks, orphans].map((t) => t.result);
}

/**
 * BullMQ's own keys (queue meta, ids, events, repeatables, job hashes kept by QUEUE_KEEP_*): bounded by
 * the queue, not by a TTL. The app's queue prefix is `<REDIS_KEY_PREFIX>{bull}` (the hash tag keeps a
 * queue's keys in one Redis Cluster slot: config.schemas.ts), so exactly that prefix is allowed.
 */
function isQueueStructure(key: string, prefix: string): boolean {
  return key.startsWith(`${prefix}{bull}:`);
}

/** For the report: the exchanges of one kind of answer. */
export function countByStatus(exchanges: Exchange[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of exchanges) {
    const key = e.status === 0 ? `no answer (${e.error})` : String(e.status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
