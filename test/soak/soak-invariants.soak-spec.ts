import type { ChargeLedgerEntry } from '../../src/payments/fake-provider/fake-provider.server';
import { History, type Exchange } from './soak-history.support';
import { checkAnswers, checkState, type FinalState } from './soak.invariants';
import type { SoakTopology } from './soak.topology';

/**
 * The checker itself, on made-up histories: each invariant counts what breaks it and names the
 * ids its history slice is cut by. (The short soak proves it on a real run: with the stock release
 * skipped on purpose it fails on `stock-conserved`; see docs/reliability.md.)
 */
const ORDER = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const PRODUCT = '33333333-3333-4333-8333-333333333333';

function topologyWith(ledger: ChargeLedgerEntry[]): SoakTopology {
  return { provider: { ledger: () => Promise.resolve(ledger) } } as unknown as SoakTopology;
}

function charge(reference: string, amountCents = 1_000, key = `order-${reference}`): ChargeLedgerEntry {
  return {
    idempotencyKey: key,
    requests: 1,
    charges: 1,
    charge: {
      id: `ch_${reference}`,
      status: 'succeeded',
      amountCents,
      currency: 'EUR',
      reference,
      idempotencyKey: key,
      createdAt: new Date().toISOString(),
    },
  };
}

function state(orders: FinalState['orders'], stock = 8, items = [{ orderId: ORDER, productId: PRODUCT, quantity: 2 }]) {
  return { orders, items, stock: new Map([[PRODUCT, stock]]), reports: [] } as FinalState;
}

const order = (id: string, status: string) => ({
  id,
  status,
  totalCents: 1_000,
  currency: 'EUR',
  attentionReason: null,
});

function answer(history: History, fields: Partial<Exchange>): void {
  history.record({
    at: history.now(),
    durationMs: 10,
    customer: 'c01',
    op: 'order',
    method: 'POST',
    route: '/v1/orders',
    status: 201,
    body: '',
    responseRequestId: 'rid',
    contentType: 'application/json',
    ...fields,
  });
}

const violations = (results: { name: string; violations: number }[]) =>
  Object.fromEntries(results.filter((r) => r.violations > 0).map((r) => [r.name, r.violations]));

describe('the soak invariants', () => {
  const initial = new Map([[PRODUCT, 10]]);

  it('hold on a consistent story: one paid order, its charge, its stock taken', async () => {
    const history = new History();
    answer(history, { idempotencyKey: 'k1', orderId: ORDER, orderStatus: 'paid' });
    const results = await checkState(topologyWith([charge(ORDER)]), history, state([order(ORDER, 'paid')]), initial);
    expect(violations(results)).toEqual({ 'workload-progressed': 2 }); // nothing failed, no report: too quiet a run
  });

  it('count a charge twice, a paid order without a charge, a charge of the wrong amount', async () => {
    const twice = { ...charge(ORDER), charges: 2 };
    const results = await checkState(
      topologyWith([twice, charge(OTHER, 999)]),
      new History(),
      state([order(ORDER, 'paid'), order(OTHER, 'paid'), order('33333333-0000-4000-8000-000000000000', 'paid')]),
      initial,
    );
    expect(violations(results)).toMatchObject({ 'never-charged-twice': 1, 'charges-match-orders': 2 });
  });

  it('count stock that vanished: a failed order whose items were not put back', async () => {
    const results = await checkState(
      topologyWith([]),
      new History(),
      state([order(ORDER, 'payment_failed')], 8),
      initial,
    );
    expect(violations(results)).toMatchObject({ 'stock-conserved': 1 });
    expect(results.find((r) => r.name === 'stock-conserved')!.examples[0].ids).toEqual([ORDER]);
  });

  it('count a 201 for an order that ended failed, an order left pending, one key answered with two orders', async () => {
    const history = new History();
    answer(history, { idempotencyKey: 'k1', orderId: ORDER, orderStatus: 'paid' });
    answer(history, { idempotencyKey: 'k1', orderId: OTHER, orderStatus: 'payment_pending', status: 504 });
    const results = await checkState(
      topologyWith([]),
      history,
      state([order(ORDER, 'payment_failed'), order(OTHER, 'payment_pending')], 10, []),
      initial,
    );
    expect(violations(results)).toMatchObject({ 'answers-agree': 1, 'orders-settled': 1, 'replays-consistent': 1 });
  });

  it('accept an earlier order of a key released by a retryable 5xx, once it ended payment_failed', async () => {
    const history = new History();
    answer(history, { idempotencyKey: 'k1', orderId: OTHER, orderStatus: 'payment_failed', status: 503 });
    answer(history, { idempotencyKey: 'k1', orderId: ORDER, orderStatus: 'paid' });
    const results = await checkState(
      topologyWith([charge(ORDER)]),
      history,
      state([order(ORDER, 'paid'), order(OTHER, 'payment_failed')]),
      initial,
    );
    expect(violations(results)).not.toHaveProperty('replays-consistent');
  });

  it('count a 500, a failure without a problem body, a leaked stack or email, and a hang', () => {
    const history = new History();
    const problem = (status: number, body: Record<string, unknown>) => ({
      status,
      contentType: 'application/problem+json',
      body: JSON.stringify({ status, code: 'X', requestId: 'rid', ...body }),
    });
    answer(history, problem(500, {}));
    answer(history, { status: 404, contentType: 'text/html', body: '<html>' });
    answer(history, problem(503, { detail: 'at Object.<anonymous> (/app/dist/main.js:1:2)' }));
    answer(history, problem(409, { detail: 'taken by someone@example.com' }));
    answer(history, { status: 0, error: 'timeout', durationMs: 12_000 });
    const results = checkAnswers(history, { emails: [], passwords: [], tokens: [] }, 9_000);
    expect(violations(results)).toEqual({
      'no-500': 1,
      'problem-answers': 2, // the HTML 404, and the 503 without Retry-After
      'no-leak-in-answers': 2,
      'no-hang': 1,
    });
  });
});
