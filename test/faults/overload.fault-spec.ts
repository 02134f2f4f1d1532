import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.schemas';
import { seedProducts } from '../../src/products/demo-catalog.bootstrap';
import { freePort, pollUntil } from '../support/poll.support';
import { runNode, type RunningProcess } from '../support/process.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';

interface Result {
  status: number;
  ms: number;
  body: string;
  retryAfter?: string;
}

function get(agent: Agent, port: number, path: string): Promise<Result> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          ms: performance.now() - started,
          body,
          retryAfter: res.headers['retry-after'],
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** `clients` closed-loop clients on keep-alive connections (a refused one retries at once) until `total` answers. */
async function drive(port: number, path: string, clients: number, total: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const results: Result[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (results.length < total) results.push(await get(agent, port, path));
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  agent.destroy();
  const ok = results.filter((r) => r.status === 200);
  return {
    results,
    ok,
    goodput: ok.length / seconds,
    p99: percentile(
      ok.map((r) => r.ms),
      99,
    ),
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1_024;

describe('load shedding under several times the capacity (F27)', () => {
  const CAP = 16;
  const RESERVE = 4;
  const CAPACITY = CAP - RESERVE; // sheddable requests admitted at once
  let db: TestDatabase;
  let api: RunningProcess;
  let port: number;
  let path: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seedProducts(loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url }), pino({ level: 'silent' }));
    port = await freePort();
    api = runNode('dist/main.js', {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      REDIS_URL,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SHED_MAX_IN_FLIGHT: String(CAP),
      SHED_CRITICAL_RESERVE: String(RESERVE),
    });
    await pollUntil(
      async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
      // Generous: a loaded two-core machine once took over 20 s to boot the build.
      { timeoutMs: 45_000, what: 'readiness' },
    );
    const page = (await (await fetch(`http://127.0.0.1:${port}/v1/products?limit=1`)).json()) as {
      items: { id: string }[];
    };
    path = `/v1/products/${page.items[0].id}`;
  }, 60_000);
  afterAll(async () => {
    api.kill();
    await api.exited(5_000).catch(() => undefined);
    await db.drop();
  });

  it('answers only 200 or 503 OVERLOADED at 4x capacity, keeps health answering, admitted latency and memory bounded', async () => {
    // Warm-up (JIT, cache, pools), then the reference points: one client, and exactly the capacity.
    await drive(port, path, CAPACITY, 300);
    const unloaded = await drive(port, path, 1, 200);
    const atCapacity = await drive(port, path, CAPACITY, 1_000);
    const rssBefore = rssMb(api.proc.pid!);

    // Health is probed all along, as an orchestrator would.
    const probes: number[] = [];
    let overloading = true;
    const prober = (async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (overloading) probes.push((await get(agent, port, '/health/live')).status);
      agent.destroy();
    })();
    const atTriple = await drive(port, path, CAPACITY * 3, 2_000);
    const atQuadruple = await drive(port, path, CAPACITY * 4, 2_000);
    overloading = false;
    await prober;
    const rssAfter = rssMb(api.proc.pid!);

    const overload = [...atTriple.results, ...atQuadruple.results];
    const shed = overload.filter((r) => r.status === 503);
    const figures = {
      unloadedP99Ms: unloaded.p99,
      capacityP99Ms: atCapacity.p99,
      capacityGoodput: Math.round(atCapacity.goodput),
      tripleGoodput: Math.round(atTriple.goodput),
      tripleAdmittedP99Ms: atTriple.p99,
      quadrupleAdmittedP99Ms: atQuadruple.p99,
      shedShare: shed.length / overload.length,
      shedP50Ms: percentile(
        shed.map((r) => r.ms),
        50,
      ),
      shedP99Ms: percentile(
        shed.map((r) => r.ms),
        99,
      ),
      probes: probes.length,
      rssBeforeMb: Math.round(rssBefore),
      rssAfterMb: Math.round(rssAfter),
    };
    process.stdout.write(`overload figures: ${JSON.stringify(figures)}\n`);

    expect(new Set(overload.map((r) => r.status))).toEqual(new Set([200, 503]));
    for (const r of shed.slice(0, 50)) {
      expect(JSON.parse(r.body)).toMatchObject({ status: 503, code: 'OVERLOADED' });
      expect(r.retryAfter).toMatch(/^\d+$/);
    }
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.every((status) => status === 200)).toBe(true);
    // Admitted requests wait no longer than at capacity, give or take a small multiple. The floor is
    // generous on purpose: these latencies are measured in the Jest worker, whose own event loop queues
    // 4 x CAPACITY sockets while other test files share the two cores (a CI run read 136 ms against
    // 7 ms unloaded and 27 ms at capacity; quiet runs read 40-65 ms). Without the gate nothing is
    // refused and the status check above fails first.
    expect(atQuadruple.p99).toBeLessThan(Math.max(4 * atCapacity.p99, 10 * unloaded.p99, 250));
    // Goodput does not collapse: refusing is cheap. (A loose bound: the load generator shares the machine's
    // two cores with the server and with other test files; `npm run bench` gives the real figure.)
    expect(atTriple.goodput).toBeGreaterThan(0.3 * atCapacity.goodput);
    expect(rssAfter - rssBefore).toBeLessThan(100);
  });

  it('keeps the reserve for critical routes: login answers while sheddable routes are refused', async () => {
    let overloading = true;
    const load = (async () => {
      while (overloading) await drive(port, path, CAPACITY * 3, 300);
    })();
    // Critical: POST /v1/auth/token (a wrong password: 401, but not refused).
    const logins: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'nobody@example.com', password: 'not-the-password-1' }),
      });
      await res.text();
      logins.push(res.status);
    }
    overloading = false;
    await load;
    // The sheddable clients alone cannot take the reserve; the event-loop cap never refuses critical routes.
    expect(logins).toEqual(Array(10).fill(401));
  });
});
