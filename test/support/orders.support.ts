import { randomUUID } from 'node:crypto';
import { startFakeProvider, type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { PaymentsProviderClient } from '../../src/payments/payments-provider.client';
import type { HttpResponse } from './http-client.support';
import { startTestApp, type TestApp } from './test-app.support';

/** Test fixtures of the orders feature: a signed-in account, products with chosen stock, a POST helper. */

export interface Buyer {
  accountId: string;
  token: string;
}

/** Signs up a fresh account and logs it in over HTTP, as a client does. */
export async function newBuyer(t: TestApp): Promise<Buyer> {
  const email = `buyer-${randomUUID()}@example.com`;
  const password = 'correct horse battery';
  const created = await t.http.post('/v1/accounts', { email, password, name: 'Buyer' });
  if (created.status !== 201) throw new Error(`sign-up failed: ${created.status} ${created.text}`);
  const login = await t.http.post('/v1/auth/token', { email, password });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
  return { accountId: created.body.id, token: login.body.accessToken };
}

export interface ProductSpec {
  stock: number;
  priceCents?: number;
  currency?: string;
  status?: 'active' | 'discontinued';
}

/** Inserts a product straight into the test database and returns its id. */
export async function insertProduct(t: TestApp, spec: ProductSpec): Promise<string> {
  const [row] = await t.db.query<{ id: string }>(
    `INSERT INTO products (sku, name, price_cents, currency, stock, status)
     VALUES ($1, 'Test product', $2, $3, $4, $5) RETURNING id`,
    [`T-${randomUUID()}`, spec.priceCents ?? 1_000, spec.currency ?? 'EUR', spec.stock, spec.status ?? 'active'],
  );
  return row.id;
}

export const stockOf = async (t: TestApp, productId: string): Promise<number> =>
  (await t.db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [productId]))[0].stock;

export const orderRow = async (t: TestApp, orderId: string) =>
  (
    await t.db.query<{ status: string; payment_failure_code: string | null; attention_reason: string | null }>(
      'SELECT status, payment_failure_code, attention_reason FROM orders WHERE id = $1',
      [orderId],
    )
  )[0];

/** `POST /v1/orders` with a bearer token and an Idempotency-Key (a fresh one unless given). */
export function postOrder(
  t: TestApp,
  buyer: Buyer,
  body: unknown,
  key: string | null = randomUUID(),
): Promise<HttpResponse> {
  return t.http.post('/v1/orders', body, {
    token: buyer.token,
    headers: key === null ? {} : { 'idempotency-key': key },
  });
}

/** The provider idempotency key of an order's charge (what the fake provider's stats are keyed by). */
export const keyOf = (orderId: string): string => PaymentsProviderClient.idempotencyKeyFor(orderId);

/** A one-line order body. */
export const orderOf = (productId: string, paymentToken = 'tok_ok', quantity = 1) => ({
  items: [{ productId, quantity }],
  paymentToken,
});

/** Fast provider settings for tests: short backoff, a breaker that never opens unless a test says so. */
const PAYMENTS_TEST_ENV = {
  PAYMENTS_BACKOFF_BASE_MS: '10',
  PAYMENTS_BACKOFF_MAX_MS: '50',
  PAYMENTS_BREAKER_FAILURES: '1000',
};

export interface OrdersTestApp {
  provider: FakeProviderHandle;
  t: TestApp;
  buyer: Buyer;
  /** Closes the app, then the provider. */
  close(): Promise<void>;
}

/**
 * The app with its payments pointed at an in-process fake provider (`tok_slow` held
 * `slowTokenDelayMs`), fast retries, and a signed-in buyer. `env` overrides any setting.
 */
export async function startOrdersApp(slowTokenDelayMs: number, env: Record<string, string>): Promise<OrdersTestApp> {
  const provider = await startFakeProvider({ slowTokenDelayMs, log: () => undefined });
  const t = await startTestApp({ env: { PAYMENTS_BASE_URL: provider.url, ...PAYMENTS_TEST_ENV, ...env } }).catch(
    async (error: unknown) => {
      await provider.close();
      throw error;
    },
  );
  const buyer = await newBuyer(t);
  return {
    provider,
    t,
    buyer,
    close: async () => {
      await t.close();
      await provider.close();
    },
  };
}
