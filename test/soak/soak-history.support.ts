/**
 * Everything the soak saw: each HTTP attempt of the workload (request id, idempotency key, status,
 * problem code, a summary of the body, timing) and each fault (kind, when, how long, what it did).
 * The invariant checker reads it; a violation prints the slice of it that shows the problem.
 */

export interface Exchange {
  seq: number;
  /** ms since the run started. */
  at: number;
  durationMs: number;
  customer: string;
  /** What the customer was doing: `signup`, `order`, `order-replay`, `hostile-hangup`, … */
  op: string;
  method: string;
  /** The route template (`/v1/orders/{id}`), for grouping. */
  route: string;
  requestId?: string;
  idempotencyKey?: string;
  /** 0 when no answer came (`error` says why). */
  status: number;
  error?: 'network' | 'timeout' | 'aborted' | 'hung-up';
  code?: string;
  /** The order this answer is about (the 201's `id`, a problem's `orderId`). */
  orderId?: string;
  /** The order status this answer states (the 201's `status`, a problem's `orderStatus`). */
  orderStatus?: string;
  reportId?: string;
  reportStatus?: string;
  retryAfter?: string | null;
  contentType?: string | null;
  /** The `X-Request-Id` response header. */
  responseRequestId?: string | null;
  /** A failure's whole body; the first 240 characters of a success's. */
  body: string;
}

export interface FaultEvent {
  seq: number;
  kind: string;
  /** ms since the run started. */
  at: number;
  /** When it healed (ms since the start); undefined while active. */
  healedAt?: number;
  detail: string;
  /** Why the injection or the recovery failed (a fault the system did not recover from). */
  failure?: string;
}

export class History {
  readonly started = Date.now();
  readonly exchanges: Exchange[] = [];
  readonly faults: FaultEvent[] = [];
  private seq = 0;

  now(): number {
    return Date.now() - this.started;
  }

  record(exchange: Omit<Exchange, 'seq'>): Exchange {
    const entry = { seq: ++this.seq, ...exchange };
    this.exchanges.push(entry);
    return entry;
  }

  fault(kind: string, detail: string): FaultEvent {
    const event: FaultEvent = { seq: ++this.seq, kind, at: this.now(), detail };
    this.faults.push(event);
    return event;
  }

  /** The faults active at some point in [from, to] (ms since the start). */
  faultsDuring(from: number, to: number): FaultEvent[] {
    return this.faults.filter((f) => f.at <= to && (f.healedAt ?? Infinity) >= from);
  }

  /**
   * The smallest slice of history that shows a problem about `ids` (order ids, idempotency keys,
   * request ids, report ids): every exchange that names one of them, and the faults active meanwhile.
   */
  slice(ids: string[], limit = 12): string[] {
    const wanted = new Set(ids.filter(Boolean));
    const hits = this.exchanges.filter(
      (e) =>
        wanted.has(e.idempotencyKey ?? '') ||
        wanted.has(e.orderId ?? '') ||
        wanted.has(e.requestId ?? '') ||
        wanted.has(e.reportId ?? ''),
    );
    if (hits.length === 0) return [];
    const from = hits[0].at;
    const to = hits[hits.length - 1].at + hits[hits.length - 1].durationMs;
    const lines = [
      ...hits.slice(0, limit).map((e) => ({ at: e.at, text: describeExchange(e) })),
      ...this.faultsDuring(from, to).map((f) => ({ at: f.at, text: describeFault(f) })),
    ].sort((a, b) => a.at - b.at);
    return lines.map((l) => l.text);
  }
}

export function describeExchange(e: Exchange): string {
  const answer = e.status === 0 ? `no answer (${e.error})` : `${e.status}${e.code ? ` ${e.code}` : ''}`;
  const order = e.orderId ? ` order=${e.orderId}${e.orderStatus ? `:${e.orderStatus}` : ''}` : '';
  return (
    `  t=${(e.at / 1000).toFixed(3)}s #${e.seq} ${e.customer} ${e.op} ${e.method} ${e.route}` +
    `${e.idempotencyKey ? ` key=${e.idempotencyKey}` : ''} rid=${e.requestId ?? '-'} → ${answer}${order} (${e.durationMs} ms)`
  );
}

export function describeFault(f: FaultEvent): string {
  const span = f.healedAt === undefined ? 'not healed' : `${((f.healedAt - f.at) / 1000).toFixed(1)} s`;
  return `  t=${(f.at / 1000).toFixed(3)}s FAULT ${f.kind} (${f.detail}; ${span})${f.failure ? ` FAILED: ${f.failure}` : ''}`;
}
