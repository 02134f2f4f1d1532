// node bench/payments-client.mjs (after npm run build): the overhead of PaymentsProviderClient's
// policies (deadline, retry, breaker, per-attempt timeout, zod schema) on a healthy call.
// The fake provider runs as its own process; PAYMENTS_BENCH_CALLS (default 200) sequential
// tok_ok charges go through the client and the same number through a plain fetch with the
// same headers and body, in interleaved rounds of 20 after a warm-up. Prints medians and p95.
// Then two fault latencies: the answer of an open circuit (100 calls after the provider was
// killed and the breaker opened) and a 1 s deadline against tok_slow (3 calls).
// A measurement, not a test: nothing here fails on a number.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { PaymentsProviderClient } = await import(resolve(root, 'dist/payments/payments-provider.client.js'));
const { loadConfig } = await import(resolve(root, 'dist/config/config.schemas.js'));

const calls = Number(process.env.PAYMENTS_BENCH_CALLS ?? 200);
const port = await new Promise((done) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = server.address();
    server.close(() => done(free));
  });
});
const provider = spawn(process.execPath, [resolve(root, 'dist-dev/fake-payments.command.js')], {
  env: { PATH: process.env.PATH, FAKE_PAYMENTS_PORT: String(port), LOG_LEVEL: 'silent' },
  stdio: 'ignore',
});
const baseUrl = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  if (
    await fetch(`${baseUrl}/health`).then(
      (r) => r.ok,
      () => false,
    )
  )
    break;
  if (i > 200) throw new Error('fake provider did not start');
  await new Promise((r) => setTimeout(r, 50));
}

const client = new PaymentsProviderClient({ ...loadConfig({}).payments, baseUrl });
const viaClient = async () => {
  await client.charge({ orderId: randomUUID(), amountCents: 1999, currency: 'EUR', token: 'tok_ok' });
};
const viaFetch = async () => {
  const orderId = randomUUID();
  const res = await fetch(`${baseUrl}/v1/charges`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      'idempotency-key': `order-${orderId}`,
      'x-request-id': randomUUID(),
    },
    body: JSON.stringify({ amountCents: 1999, currency: 'EUR', token: 'tok_ok', reference: orderId }),
  });
  JSON.parse(await res.text());
};

const samples = { client: [], fetch: [] };
const round = async (name, fn, n) => {
  for (let i = 0; i < n; i++) {
    const started = process.hrtime.bigint();
    await fn();
    samples[name]?.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
};
await round('warm-up', viaClient, 50);
await round('warm-up', viaFetch, 50);
for (let done = 0; done < calls; done += 20) {
  await round('fetch', viaFetch, Math.min(20, calls - done));
  await round('client', viaClient, Math.min(20, calls - done));
}

const { Deadline } = await import(resolve(root, 'dist/platform/kernel/resilience/deadline.policy.js'));
const slowOrder = () => ({ orderId: randomUUID(), amountCents: 1999, currency: 'EUR', token: 'tok_slow' });
samples.slow = [];
for (let i = 0; i < 3; i++) {
  const started = process.hrtime.bigint();
  await client.charge(slowOrder(), { deadline: Deadline.after(1_000) }).catch(() => undefined);
  samples.slow.push(Number(process.hrtime.bigint() - started) / 1e6);
}

provider.kill();
await new Promise((r) => provider.once('exit', r));
samples.open = [];
while (client.circuitState !== 'open') await viaClient().catch(() => undefined);
for (let i = 0; i < 100; i++) {
  const started = process.hrtime.bigint();
  const error = await viaClient().catch((e) => e);
  if (error?.reason !== 'circuit_open') throw new Error(`expected an open circuit, got ${error}`);
  samples.open.push(Number(process.hrtime.bigint() - started) / 1e6);
}

const stat = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p95: at(0.95) };
};
const c = stat(samples.client);
const f = stat(samples.fetch);
const ms = (x) => `${x.toFixed(3)} ms`;
console.log(`${calls} sequential tok_ok charges each, Node ${process.version}`);
console.log(`plain fetch : median ${ms(f.median)}, p95 ${ms(f.p95)}`);
console.log(`client      : median ${ms(c.median)}, p95 ${ms(c.p95)}`);
console.log(`overhead    : median ${ms(c.median - f.median)} (${((c.median / f.median - 1) * 100).toFixed(1)} %)`);
const o = stat(samples.open);
console.log(`circuit open: median ${ms(o.median)}, max ${ms(Math.max(...samples.open))} (100 calls)`);
console.log(`1 s deadline vs tok_slow: ${samples.slow.map(ms).join(', ')}`);
