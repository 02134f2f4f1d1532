import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

const SIGN_UP = '/v1/accounts';
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `{"aaa":0,"baa":0,...}`: `count` distinct three-letter unknown keys, 8 bytes each. */
function manyKeys(count: number): Buffer {
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    keys.push(`"${LETTERS[i % 62]}${LETTERS[Math.floor(i / 62) % 62]}${LETTERS[Math.floor(i / 3844) % 62]}":0`);
  }
  return Buffer.from(`{${keys.join(',')}}`);
}

const json = { 'content-type': 'application/json' };

/** Issue 5, defect 7: one oversized request must not stall everyone, nor get a 7 MB answer. */
describe('hostile bodies stay cheap', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers 125,000 short unknown keys (996 KB) with a small 413, before parsing', async () => {
    const body = manyKeys(125_000);
    expect(body.length).toBeLessThan(1_048_576);
    const res = await t.http.post(SIGN_UP, body, { headers: json });
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE', SIGN_UP);
    expect(res.body.detail).toMatch(/more than 10000 JSON values/);
    expect(res.text.length).toBeLessThan(2_000);
  });

  it('lists the first 20 failing fields and the total in detail, in a small answer', async () => {
    const res = await t.http.post(SIGN_UP, manyKeys(5_000), { headers: json });
    expectProblem(res, 400, 'VALIDATION_FAILED', SIGN_UP);
    expect(res.body.errors).toHaveLength(20);
    // 5,000 unknown keys and the three missing fields.
    expect(res.body.detail).toBe('5003 fields are invalid. The first 20 are listed.');
    expect(res.text.length).toBeLessThan(4_000);
  });

  it('keeps /health/live fast while four clients send hostile bodies (median under 250 ms; the tail only bounded against a hang)', async () => {
    const hostile = [manyKeys(125_000), manyKeys(9_000)];
    let sending = true;
    let sent = 0;
    const senders = Array.from({ length: 4 }, async (_, i) => {
      while (sending) {
        const res = await t.http.post(SIGN_UP, hostile[i % 2], { headers: json });
        expect([400, 413]).toContain(res.status);
        sent++;
      }
    });
    const latencies: number[] = [];
    try {
      // 50 probes, or as many as fit in 10 s when the server stalls (the old code blocked ~0.5 s per body).
      const deadline = Date.now() + 10_000;
      for (let i = 0; i < 50 && Date.now() < deadline; i++) {
        const started = performance.now();
        const res = await t.http.get('/health/live');
        latencies.push(performance.now() - started);
        expect(res.status).toBe(200);
      }
    } finally {
      sending = false;
      await Promise.all(senders);
    }
    latencies.sort((a, b) => a - b);
    expect(sent).toBeGreaterThan(4);
    const p50 = latencies[Math.floor(latencies.length / 2)];
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1];
    console.log(
      `[hostile] /health/live p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, ${latencies.length} probes`,
    );
    // The old parser blocked the loop for about 0.35 s per big body, so most probes waited
    // (p99 1.85 s alone). Now a probe waits at most behind a few cheap rejections: measured
    // p50 70-90 ms and p99 0.4-0.7 s with both cores busy; the whole suite beside it has
    // pushed p99 to 1.8-2.6 s (the p99 of 30-50 probes is their slowest one, the one that met a
    // scheduling stall). The old code's p99 (1.85 s alone) was under any such tail bound too, so
    // the median carries the proof; the tail bound only catches a probe that hangs.
    expect(p50).toBeLessThan(250);
    expect(p99).toBeLessThan(5_000);
  });
});
