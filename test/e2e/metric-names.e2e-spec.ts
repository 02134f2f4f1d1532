import { load } from 'js-yaml';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { METRICS, type MetricName } from '../../src/platform/kernel/metrics/metrics.catalog';
import { FaultFixturesModule } from '../support/fault-fixtures.module';
import { parseMetrics, scrape, Scrape } from '../support/metrics.support';
import { promqlRefs } from '../support/promql.support';
import { pollUntil } from '../support/poll.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import { startInProcessWorker, workerEnvFor, type InProcessWorker } from '../support/worker.support';

/**
 * Catalog metrics that later capabilities will export (the rules and the dashboard already use
 * most of them). The capability that makes one of them real REMOVES it from this list in the
 * same change: the test fails while a listed name is exported, so the list only shrinks.
 */
const PLANNED: Partial<Record<MetricName, string>> = {};

/** Made by Prometheus, not by the app: `up` per target, and the target labels on every series. */
const PROMETHEUS_SERIES: Record<string, string[]> = { up: [] };
const TARGET_LABELS = ['job', 'instance'];

const ROOT = resolve(__dirname, '../..');
const RULES = 'deploy/prometheus/alerts.rules.yml';
const DASHBOARD = 'deploy/grafana/resilient-api.dashboard.json';

interface Reference {
  where: string;
  expr: string;
  /** Label names used outside the expression ($labels.x in an annotation, label_values' label). */
  extraLabels?: string[];
}

function ruleReferences(): { refs: Reference[]; recorded: Map<string, string> } {
  const { groups } = load(readFileSync(resolve(ROOT, RULES), 'utf8')) as {
    groups: { rules: { alert?: string; record?: string; expr: string; annotations?: Record<string, string> }[] }[];
  };
  const refs: Reference[] = [];
  const recorded = new Map<string, string>();
  for (const rule of groups.flatMap((g) => g.rules)) {
    const templated = Object.values(rule.annotations ?? {}).join(' ');
    refs.push({
      where: `${RULES} ${rule.alert ?? rule.record}`,
      expr: rule.expr,
      extraLabels: [...templated.matchAll(/\$labels\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]),
    });
    if (rule.record) recorded.set(rule.record, rule.expr);
  }
  return { refs, recorded };
}

function dashboardReferences(): Reference[] {
  const dashboard = JSON.parse(readFileSync(resolve(ROOT, DASHBOARD), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating: { list: { name: string; query?: { query?: string } | string }[] };
  };
  const refs: Reference[] = dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ where: `${DASHBOARD} panel "${panel.title}"`, expr: t.expr })),
  );
  for (const variable of dashboard.templating.list) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const labelValues = query && /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(query);
    if (labelValues) {
      refs.push({
        where: `${DASHBOARD} variable $${variable.name}`,
        expr: labelValues[1],
        extraLabels: [labelValues[2]],
      });
    }
  }
  return refs;
}

/** Label names per series name (`_bucket`, `_count` and `_sum` are separate names, as in PromQL). */
function exportedLabels(metrics: Scrape): Map<string, Set<string>> {
  const byName = new Map<string, Set<string>>();
  for (const sample of metrics.samples) {
    const labels = byName.get(sample.name) ?? new Set(TARGET_LABELS);
    for (const label of Object.keys(sample.labels)) labels.add(label);
    byName.set(sample.name, labels);
  }
  return byName;
}

/**
 * An app that admits one request at a time: a request whose body never arrives holds the only
 * slot (the gate admits before the body is read), so the next is shed with 503 OVERLOADED.
 * Returns that app's scrape, taken before and after to prove the counter moved by one.
 */
async function shedOneRequest(main: TestApp): Promise<Scrape> {
  const app = await startTestApp({ db: main.db, env: { SHED_MAX_IN_FLIGHT: '1', SHED_CRITICAL_RESERVE: '0' } });
  const stalled = connect(Number(new URL(app.baseUrl).port), '127.0.0.1');
  stalled.on('error', () => undefined);
  try {
    expect((await scrape(app.http)).find('http_server_requests_shed_total')).toEqual([]);
    stalled.write(
      'POST /v1/accounts HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    const refused = await pollUntil(
      async () => {
        const res = await app.http.get('/v1/products?limit=1');
        return res.status === 503 && res;
      },
      { timeoutMs: 5_000, what: 'a request shed while the stalled one holds the only slot' },
    );
    expect(refused.body.code).toBe('OVERLOADED');
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    return await scrape(app.http);
  } finally {
    stalled.destroy();
    await app.close();
  }
}

describe('metric names: the dashboard and the alert rules use only what the app exports', () => {
  let t: TestApp;
  let worker: InProcessWorker;
  let metrics: Scrape;

  beforeAll(async () => {
    // One login per email and window: the second attempt below is a 429.
    t = await startTestApp({ extraModules: [FaultFixturesModule], env: { RATE_LIMIT_LOGIN_PER_EMAIL: '1' } });
    // Traffic that makes every labelled series appear: success and failure, both flows, a failed query, readiness.
    const email = `names-${randomUUID()}@example.com`;
    await t.http.get(`/v1/products/${randomUUID()}`);
    await t.http.get('/v1/products?limit=1');
    await t.http.post('/v1/accounts', { email, password: 'correct horse battery', name: 'N' });
    await t.http.post('/v1/accounts', { email, password: 'correct horse battery', name: 'N' });
    await t.http.post('/v1/auth/token', { email, password: 'wrong password!' });
    await t.http.post('/v1/auth/token', { email, password: 'wrong password!' });
    await t.http.get('/__test__/sql');
    await t.http.get('/health/ready');
    const api = await scrape(t.http);
    const shed = await shedOneRequest(t);
    // The worker exports the queue metrics and the payments reconciliation backlog (Prometheus
    // scrapes it as its own job): a scheduled job finishing makes queue_jobs_completed_total appear.
    worker = await startInProcessWorker(workerEnvFor(t, { RECONCILIATION_INTERVAL_MS: '100' }));
    const fromWorker = await pollUntil(
      async () => {
        const scraped = parseMetrics(await (await fetch(`${worker.baseUrl}/metrics`)).text());
        return scraped.find('queue_jobs_completed_total').length > 0 && scraped;
      },
      { timeoutMs: 10_000, what: 'a finished job in the worker metrics' },
    );
    metrics = new Scrape(
      `${api.text}\n${fromWorker.text}`,
      [...api.samples, ...fromWorker.samples, ...shed.find('http_server_requests_shed_total')],
      new Map([...api.families, ...fromWorker.families]),
    );
  });
  afterAll(async () => {
    await worker?.stop('test end');
    await t.close();
  });

  it('references no metric or label the app does not export (planned names excepted)', () => {
    const exported = exportedLabels(metrics);
    const { refs: ruleRefs, recorded } = ruleReferences();
    const known = new Map<string, Set<string>>(exported);
    for (const [name, labels] of Object.entries(PROMETHEUS_SERIES))
      known.set(name, new Set([...labels, ...TARGET_LABELS]));
    for (const name of Object.keys(PLANNED) as MetricName[]) {
      const { type, labelNames } = METRICS[name];
      const series = type === 'histogram' ? ['_bucket', '_count', '_sum'].map((s) => name + s) : [name];
      const extra = type === 'histogram' ? ['le'] : [];
      for (const s of series) known.set(s, new Set([...labelNames, ...extra, ...TARGET_LABELS]));
    }
    // A recording rule's series carries the labels of what it reads (its by() keeps a subset of them).
    for (const [name, expr] of recorded) {
      const labels = new Set<string>();
      for (const metric of promqlRefs(expr).metrics) for (const l of known.get(metric) ?? []) labels.add(l);
      known.set(name, labels);
    }

    const problems: string[] = [];
    const refs = [...ruleRefs, ...dashboardReferences()];
    for (const ref of refs) {
      const { metrics: names, labels } = promqlRefs(ref.expr);
      if (names.size === 0) problems.push(`${ref.where}: no metric found in ${ref.expr}`);
      const available = new Set<string>();
      for (const name of names) {
        const labelsOfName = known.get(name);
        if (!labelsOfName) problems.push(`${ref.where}: metric ${name} is not exported`);
        for (const l of labelsOfName ?? []) available.add(l);
      }
      for (const label of [...labels, ...(ref.extraLabels ?? [])]) {
        if (!available.has(label)) problems.push(`${ref.where}: label ${label} is on none of ${[...names].join(', ')}`);
      }
    }
    expect(refs.length).toBeGreaterThan(40);
    expect(problems).toEqual([]);
  });

  it('counts a shed request by reason and a rate-limited one by policy (F27, F24)', () => {
    expect(metrics.value('http_server_requests_shed_total', { reason: 'in_flight' })).toBe(1);
    expect(metrics.value('http_server_requests_rate_limited_total', { policy: 'login' })).toBe(1);
  });

  it('keeps the planned list honest: every planned name is in the catalog and none is exported yet', () => {
    const exportedFamilies = new Set(metrics.families.keys());
    for (const name of Object.keys(PLANNED)) {
      expect(Object.keys(METRICS)).toContain(name);
      // Exported now? Remove it from PLANNED: the test above then checks it against the real scrape.
      expect({ name, exported: exportedFamilies.has(name) }).toEqual({ name, exported: false });
    }
  });

  it('exports every catalog metric that is not planned', () => {
    const exportedFamilies = new Set(metrics.families.keys());
    const missing = (Object.keys(METRICS) as MetricName[]).filter(
      (name) => !(name in PLANNED) && !exportedFamilies.has(name),
    );
    expect(missing).toEqual([]);
  });
});
