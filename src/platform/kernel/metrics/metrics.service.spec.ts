import { MetricsService } from './metrics.service';

describe('MetricsService', () => {
  it('gives each instance its own registry, so two apps in one process never share a series', async () => {
    const a = new MetricsService();
    const b = new MetricsService();
    a.counter('resilience_retries_total').inc({ dependency: 'payments' });
    expect(await a.render()).toContain('resilience_retries_total{dependency="payments"} 1');
    expect(await b.render()).not.toContain('resilience_retries_total');
  });

  it('returns the same instrument for the same name, created only when first asked for', async () => {
    const metrics = new MetricsService();
    expect(await metrics.render()).not.toContain('queue_jobs_completed_total');
    const first = metrics.counter('queue_jobs_completed_total');
    expect(metrics.counter('queue_jobs_completed_total')).toBe(first);
    expect(await metrics.render()).toContain('# TYPE queue_jobs_completed_total counter');
  });

  it('reads a gauge from its owner at scrape time, and refuses a second owner', async () => {
    const metrics = new MetricsService();
    let waiting = 3;
    metrics.gauge('queue_jobs_waiting', (gauge) => gauge.set({ queue: 'reports' }, waiting));
    expect(await metrics.render()).toContain('queue_jobs_waiting{queue="reports"} 3');
    waiting = 7;
    expect(await metrics.render()).toContain('queue_jobs_waiting{queue="reports"} 7');
    expect(() => metrics.gauge('queue_jobs_waiting', () => undefined)).toThrow(/already has a collect function/);
  });

  it('bounds a read that hangs: the scrape answers with the last value, marked stale, and never starts a second read', async () => {
    const metrics = new MetricsService(50);
    let reads = 0;
    let release: (() => void) | undefined;
    metrics.gauge('queue_jobs_waiting', async (gauge) => {
      reads++;
      if (reads === 1) return gauge.set({ queue: 'reports' }, 4);
      await new Promise<void>((resolve) => (release = resolve)); // a frozen Redis
      gauge.set({ queue: 'reports' }, 9);
    });
    expect(await metrics.render()).toContain('metrics_collect_stale{metric="queue_jobs_waiting"} 0');
    for (let scrape = 0; scrape < 3; scrape++) {
      const started = Date.now();
      const text = await metrics.render();
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(text).toContain('queue_jobs_waiting{queue="reports"} 4');
      expect(text).toContain('metrics_collect_stale{metric="queue_jobs_waiting"} 1');
    }
    expect(reads).toBe(2);
    release?.();
    const text = await metrics.render();
    expect(text).toContain('queue_jobs_waiting{queue="reports"} 9');
    expect(text).toContain('metrics_collect_stale{metric="queue_jobs_waiting"} 0');
  });

  it('marks a failed read stale and keeps the last value', async () => {
    const metrics = new MetricsService();
    let fail = false;
    metrics.gauge('queue_jobs_waiting', (gauge) => {
      if (fail) throw new Error('ECONNREFUSED');
      gauge.set({ queue: 'reports' }, 2);
    });
    await metrics.render();
    fail = true;
    const text = await metrics.render();
    expect(text).toContain('queue_jobs_waiting{queue="reports"} 2');
    expect(text).toContain('metrics_collect_stale{metric="queue_jobs_waiting"} 1');
  });

  it('rejects a label the catalog does not declare for the metric', () => {
    const metrics = new MetricsService();
    // The types forbid it too; this is what happens to code that casts its way around them.
    expect(() => metrics.counter('resilience_retries_total').inc({ route: '/x' } as never)).toThrow(/label/i);
  });

  it('includes the Node process metrics', async () => {
    const text = await new MetricsService().render();
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_p99_seconds gauge');
  });
});
