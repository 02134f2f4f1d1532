import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, SCREENSHOTS_DIR } from '../support/browser.support';
import { startFakeProviderProcess, type FakeProviderProcess } from '../support/fake-provider.support';
import { freePort, pollUntil } from '../support/poll.support';
import { runNode, type RunningProcess } from '../support/process.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';

/** `npm run docs:client-page` writes the degraded states to docs/. */
const SCREENSHOTS = SCREENSHOTS_DIR;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/**
 * The page that fails gracefully (client/page/, served at /demo by the development stack), in Debian's
 * Chromium, against the real stack: the built API (dist/main.js, NODE_ENV=development) on real Postgres
 * and Redis, and the fake payments provider as its own process. Faults are switched on the provider
 * over HTTP and by stopping the API process; what is asserted is what a shopper sees.
 */
describe('the page that fails gracefully, in a real browser against the real stack', () => {
  let db: TestDatabase;
  let provider: FakeProviderProcess;
  let port: number;
  let api: RunningProcess | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const prefix = `ra-test:${randomBytes(4).toString('hex')}:`;
  const email = `shopper-${randomBytes(4).toString('hex')}@example.com`;

  async function startApi(): Promise<RunningProcess> {
    const proc = runNode('dist/main.js', {
      NODE_ENV: 'development',
      PORT: String(port),
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      PAYMENTS_BASE_URL: provider.url,
      PAYMENTS_BREAKER_FAILURES: '1000',
      LOG_LEVEL: 'info',
      SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
    });
    await pollUntil(
      async () => {
        if (proc.proc.exitCode !== null) throw new Error(`API exited: ${proc.stderr()}`);
        return (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 20_000, what: 'the API to be ready' },
    );
    return proc;
  }
  async function stopApi(): Promise<void> {
    api?.kill('SIGKILL');
    await api?.exited(5_000);
    api = undefined;
  }
  const outage = (body: Record<string, unknown> | null) =>
    fetch(`${provider.url}/__admin/outage`, {
      method: body ? 'PUT' : 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    }).then((res) => expect(res.status).toBeLessThan(300));
  /** The API's log lines (stdout, JSON) for one request id: what support finds from the id a shopper quotes. */
  const apiLinesFor = (requestId: string, proc: RunningProcess) =>
    proc
      .stdout()
      .split('\n')
      .filter((line) => line.includes(requestId))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const shot = async (name: string) => {
    if (!SCREENSHOTS) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });
  };
  const messageText = () => page.locator('#message').innerText();

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.query(
      `INSERT INTO products (sku, name, price_cents, currency, stock, status) VALUES
         ('MUG-1', 'Enamel mug', 1200, 'EUR', 10, 'active'),
         ('TEE-1', 'Logo tee', 2500, 'EUR', 10, 'active'),
         ('OLD-1', 'Old poster', 900, 'EUR', 0, 'discontinued')`,
    );
    provider = await startFakeProviderProcess(await freePort());
    port = await freePort();
    api = await startApi();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    page = await context.newPage();
  }, 60_000);
  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    api?.kill('SIGKILL');
    await api?.exited(5_000).catch(() => undefined);
    await provider?.kill();
    await db?.drop();
  });

  it('loads the catalog through the typed client, and signs up and in', async () => {
    await page.goto(`http://127.0.0.1:${port}/demo`);
    await page.locator('#catalog-items tr').first().waitFor();
    expect(await page.locator('#catalog-items').innerText()).toContain('Enamel mug');
    await expect(page.locator('#catalog-saved').isVisible()).resolves.toBe(false);

    await page.fill('#sign-in input[name=email]', email);
    await page.fill('#sign-in input[name=password]', 'correct horse battery');
    await page.click('#sign-in button[value=sign-up]');
    await page.locator('#signed-in').waitFor({ state: 'visible' });
  });

  it('provider failing: a friendly message with the request id and a retry; the order draft survives a reload', async () => {
    const form = '#order-form';
    await page.selectOption(`${form} select[name=productId]`, { label: 'Logo tee (25.00 EUR)' });
    await page.fill(`${form} input[name=quantity]`, '2');
    await outage({ mode: 'error' });

    await page.click(`${form} button[type=submit]`);
    await page.locator('#message').waitFor({ state: 'visible', timeout: 20_000 });
    const text = await messageText();
    expect(text).toContain('We could not place your order.');
    expect(text).toMatch(/Reference: [0-9a-f-]{36}/);
    expect(text).not.toMatch(/502|PAYMENT_PROVIDER_ERROR|stack|Error:/);
    await expect(page.locator('#message-retry').isVisible()).resolves.toBe(true);
    // The id the shopper quotes is the one the API logged the failed call under.
    const requestId = UUID.exec(text)![0];
    const logged = await pollUntil(
      () => {
        const lines = apiLinesFor(requestId, api!).filter((l) => l.msg === 'request completed');
        return lines.length > 0 && lines;
      },
      { timeoutMs: 5_000, what: `the API's log line for ${requestId}` },
    );
    expect(logged.length).toBeGreaterThanOrEqual(1);
    await shot('client-page-provider-down.png');

    await page.reload();
    await page.locator('#catalog-items tr').first().waitFor();
    expect(await page.inputValue(`${form} input[name=quantity]`)).toBe('2');
    expect(await page.locator(`${form} select[name=productId] option:checked`).innerText()).toContain('Logo tee');
    await expect(page.locator('#order-draft').isVisible()).resolves.toBe(true);

    // Still failing after the reload; then the provider is back and "Try again" places the order, clearing the draft.
    await page.click(`${form} button[type=submit]`);
    await page.locator('#message-retry').waitFor({ state: 'visible', timeout: 20_000 });
    await outage(null);
    await page.click('#message-retry');
    await page.locator('#info').waitFor({ state: 'visible', timeout: 20_000 });
    expect(await page.locator('#info').innerText()).toMatch(/order [0-9a-f-]{36} is paid/);
    expect(await page.evaluate(() => localStorage.getItem('ra.orderDraft'))).toBeNull();
  }, 60_000);

  it('API stopped: the saved catalog with a visible note, the message with a request id; a report request queued and sent when the API is back', async () => {
    await stopApi();

    const clicked = performance.now();
    await page.click('#catalog-refresh');
    await page.locator('#message').waitFor({ state: 'visible', timeout: 20_000 });
    console.log(
      `[client timing] page, API stopped: message shown ${Math.round(performance.now() - clicked)} ms after Refresh`,
    );
    const text = await messageText();
    expect(text).toContain('We could not refresh the catalog.');
    expect(text).toContain('cannot be reached');
    expect(text).toMatch(/Reference: [0-9a-f-]{36}/);
    await expect(page.locator('#catalog-saved').isVisible()).resolves.toBe(true);
    expect(await page.locator('#catalog-saved').innerText()).toContain('saved data');
    expect(await page.locator('#catalog-items').innerText()).toContain('Enamel mug');

    await page.fill('#report-form input[name=from]', '2026-01-01');
    await page.fill('#report-form input[name=to]', '2026-01-31');
    await page.click('#report-form button[type=submit]');
    await page.locator('#report-queued').waitFor({ state: 'visible', timeout: 20_000 });
    expect(await page.locator('#report-queued-count').innerText()).toBe('1');
    await shot('client-page-api-down.png');
    expect(await db.query('SELECT id FROM reports')).toEqual([]);

    api = await startApi();
    await page.locator('#report-queued').waitFor({ state: 'hidden', timeout: 20_000 });
    expect(await page.locator('#report-results').innerText()).toMatch(
      /Report [0-9a-f-]{36} requested \(2026-01-01 to 2026-01-31\): queued\./,
    );
    const rows = await db.query<{ params: { from: string; to: string } }>('SELECT params FROM reports');
    expect(rows).toHaveLength(1);
    expect(await page.evaluate(() => localStorage.getItem('ra.reportOutbox'))).toBe('[]');

    // Reachable again: the page says so, and a fresh catalog replaces the saved one.
    expect(await page.locator('#info').innerText()).toContain('reachable again');
    await page.locator('#catalog-saved').waitFor({ state: 'hidden', timeout: 20_000 });
    await expect(page.locator('#message').isVisible()).resolves.toBe(false);
  }, 90_000);

  it('is not served in production', async () => {
    await stopApi();
    const proc = runNode('dist/main.js', {
      NODE_ENV: 'production',
      PORT: String(port),
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      JWT_SECRET: randomBytes(24).toString('hex'),
      LOG_LEVEL: 'warn',
    });
    api = proc;
    await pollUntil(
      async () => {
        if (proc.proc.exitCode !== null) throw new Error(`API exited: ${proc.stderr()}`);
        return (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 20_000, what: 'the production API to be ready' },
    );
    for (const path of ['/demo', '/demo/page/app.js', '/demo/vendor/openapi-fetch.js']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
  }, 30_000);
});
