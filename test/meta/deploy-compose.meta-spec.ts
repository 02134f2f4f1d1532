import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { APP_VARIABLES, ENTRY_POINTS, healthPaths, productionConfig, stopBound } from '../support/deploy.support';
import { connectionBudgetProblems, parsePgbouncerIni } from '../support/connection-budget.support';
import { HOST_PATH, ROOT } from '../support/process.support';

/**
 * docker-compose.yml, checked by Debian's docker-compose 1.29 (`config` parses, merges anchors
 * and validates against the Compose schema without a Docker engine; .ci/run installs it), then
 * the resolved file is compared with the app: ports, health routes, commands, variables, order.
 */
const COMPOSE = resolve(ROOT, 'docker-compose.yml');

function compose(file: string, ...args: string[]) {
  const run = spawnSync('docker-compose', ['-f', file, '--project-directory', ROOT, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: HOST_PATH, HOME: tmpdir() },
  });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      'docker-compose is not installed: this test needs the real compose parser. Run .ci/run, or apt-get install --no-install-recommends docker-compose',
    );
  }
  return run;
}

/** Every disagreement between the resolved compose file and the app; empty when consistent. */
function consistencyProblems(resolved: any): string[] {
  const problems: string[] = [];
  const services = resolved.services;
  const paths = healthPaths();
  const app = {
    api: {
      command: ENTRY_POINTS.api,
      health: paths.live,
      port: (c: ReturnType<typeof productionConfig>) => c.http.port,
    },
    worker: {
      command: ENTRY_POINTS.worker,
      health: paths.live,
      port: (c: ReturnType<typeof productionConfig>) => c.worker.port,
    },
    'fake-payments': {
      command: ENTRY_POINTS.fakePayments,
      health: '/health',
      port: (c: ReturnType<typeof productionConfig>) => c.payments.fakePort,
    },
    migrate: { command: ENTRY_POINTS.migrate, health: undefined, port: undefined },
  };
  const images = new Set<string>();
  for (const [name, expected] of Object.entries(app)) {
    const service = services[name];
    if (!service) {
      problems.push(`no ${name} service`);
      continue;
    }
    if (name !== 'fake-payments') images.add(service.image);
    const env: Record<string, string> = { ...service.environment };
    for (const variable of Object.keys(env)) {
      if (!APP_VARIABLES.has(variable) && variable !== 'HEALTHCHECK_URL')
        problems.push(`${name} sets ${variable}, which the app does not read`);
    }
    let config;
    try {
      config = productionConfig(env);
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
      continue;
    }
    if (service.command?.join(' ') !== `node ${expected.command}`)
      problems.push(`${name} runs ${service.command?.join(' ')}`);
    const graceMs = parseInt(service.stop_grace_period, 10) * 1000;
    const { ms: stopMs, what: stopWhat } = stopBound(expected.command, config);
    if (!(graceMs > stopMs)) {
      problems.push(
        `${name} stop_grace_period ${service.stop_grace_period} is not more than ${stopWhat} = ${stopMs} ms`,
      );
    }
    if (!expected.port) continue;
    const port = expected.port(config);
    if (!service.ports?.some((p: { target: number }) => p.target === port))
      problems.push(`${name} publishes ${JSON.stringify(service.ports)}, the app listens on ${port}`);
    if (env.HEALTHCHECK_URL !== `http://127.0.0.1:${port}${expected.health}`) {
      problems.push(
        `${name} HEALTHCHECK_URL ${env.HEALTHCHECK_URL}, the app answers http://127.0.0.1:${port}${expected.health}`,
      );
    }
  }
  if (images.size !== 1) problems.push(`one image for every command, got ${[...images].join(', ')}`);
  // The production image holds no fake provider: it is built from the Dockerfile's own target for it.
  const fake = services['fake-payments'];
  if (fake && (fake.build?.target !== 'fake-payments' || images.has(fake.image)))
    problems.push(
      `fake-payments is not its own image from the Dockerfile's fake-payments target: ${JSON.stringify(fake.build)}`,
    );
  const payments = new URL(productionConfig(services.api.environment).payments.baseUrl);
  const fakePort = productionConfig(services['fake-payments'].environment).payments.fakePort;
  if (payments.hostname !== 'fake-payments' || Number(payments.port) !== fakePort) {
    problems.push(`api PAYMENTS_BASE_URL ${payments} does not reach fake-payments:${fakePort}`);
  }
  return problems;
}

/**
 * PgBouncer between the apps and Postgres (issue 19): the API and the worker through it, migrations
 * direct, its settings and sizes within the connection budget (Postgres' default max_connections).
 */
function poolerProblems(resolved: any): string[] {
  const problems: string[] = [];
  const services = resolved.services;
  const pooler = services.pgbouncer;
  if (!pooler) return ['no pgbouncer service'];
  const port = Number(pooler.ports?.[0]?.target);
  const hostOf = (value: string | undefined) => (value ? new URL(value).host : undefined);
  for (const name of ['api', 'worker']) {
    const env = services[name].environment;
    if (hostOf(env.DATABASE_URL) !== `pgbouncer:${port}`)
      problems.push(`${name} DATABASE_URL goes to ${hostOf(env.DATABASE_URL)}, not pgbouncer:${port}`);
    if (hostOf(env.DATABASE_MIGRATION_URL) !== 'postgres:5432')
      problems.push(`${name} DATABASE_MIGRATION_URL goes to ${hostOf(env.DATABASE_MIGRATION_URL)}, not postgres:5432`);
    if (services[name].depends_on?.pgbouncer?.condition !== 'service_healthy')
      problems.push(`${name} does not wait for a healthy pgbouncer`);
  }
  for (const variable of ['DATABASE_URL', 'DATABASE_MIGRATION_URL']) {
    const host = hostOf(services.migrate.environment[variable]);
    if (host !== 'postgres:5432') problems.push(`migrate ${variable} goes to ${host}, not postgres:5432`);
  }
  // docker-compose 1.29 resolves a bind mount to `<absolute source>:<target>[:ro]`.
  const mount = (pooler.volumes ?? [])
    .map((v: string | { source: string; target: string }) =>
      typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v,
    )
    .find((v: { target: string }) => v.target === '/etc/pgbouncer');
  if (!mount) return [...problems, 'pgbouncer does not mount deploy/pgbouncer at /etc/pgbouncer'];
  const ini = parsePgbouncerIni(readFileSync(join(mount.source, 'pgbouncer.ini'), 'utf8'));
  if (Number(ini.pgbouncer?.listen_port) !== port)
    problems.push(`pgbouncer listens on ${ini.pgbouncer?.listen_port}, publishes ${port}`);
  const api = productionConfig(services.api.environment);
  problems.push(
    ...connectionBudgetProblems(
      {
        apiPeak: 1,
        workerPeak: 1,
        poolMax: api.database.poolMax,
        // The migrate service and a booting worker.
        migrators: 2,
        pooler: { replicas: 1, ini },
        // The postgres image's defaults (its command sets neither).
        postgres: { maxConnections: 100, superuserReserved: 3 },
        requestDeadlineMs: api.http.requestDeadlineMs,
      },
      'docker-compose.yml pgbouncer',
    ),
  );
  return problems;
}

describe('docker-compose.yml (docker-compose config)', () => {
  let resolved: any;
  beforeAll(() => {
    const run = compose(COMPOSE, 'config');
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    resolved = parse(run.stdout);
  });

  it('is accepted by the real compose parser', () => {
    const run = compose(COMPOSE, 'config', '-q');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('has a parser that rejects what Docker would reject', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ra-compose-'));
    try {
      const broken = parse(readFileSync(COMPOSE, 'utf8'), { merge: true });
      broken.services.api.depends_on.migrate.condition = 'service_finished';
      const file = join(dir, 'docker-compose.yml');
      writeFileSync(file, stringify(broken));
      const run = compose(file, 'config', '-q');
      expect(run.status).not.toBe(0);
      expect(run.stderr).toMatch(/condition/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('comes up in order: stores healthy, migrations completed, provider healthy, then API and worker', () => {
    const { services } = resolved;
    expect(services.migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(services.migrate.restart).toBe('no');
    for (const name of ['api', 'worker']) {
      expect(services[name].depends_on).toEqual({
        migrate: { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
        pgbouncer: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        'fake-payments': { condition: 'service_healthy' },
      });
    }
    expect(services.pgbouncer.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    for (const name of ['postgres', 'pgbouncer', 'redis', 'api', 'worker', 'fake-payments', 'prometheus']) {
      expect({ name, healthcheck: Boolean(services[name].healthcheck) }).toEqual({ name, healthcheck: true });
    }
  });

  it('never lets Redis evict keys (the queue lives there)', () => {
    const command: string[] = resolved.services.redis.command;
    expect(command[command.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
  });

  it('puts Prometheus and Grafana behind a profile, loading deploy/prometheus and deploy/grafana', () => {
    const { prometheus, grafana } = resolved.services;
    expect(prometheus.profiles).toEqual(['observability']);
    expect(grafana.profiles).toEqual(['observability']);
    // docker-compose 1.29 prints volumes in the short form: source:target:mode.
    expect(prometheus.volumes).toEqual([`${resolve(ROOT, 'deploy', 'prometheus')}:/etc/prometheus:ro`]);
    expect(grafana.volumes).toEqual([
      `${resolve(ROOT, 'deploy', 'grafana')}:${grafana.environment.GF_PATHS_PROVISIONING.replace(/\/provisioning$/, '')}:ro`,
    ]);
    const scrape = parse(readFileSync(resolve(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8'));
    const targets = scrape.scrape_configs.flatMap((c: any) => c.static_configs.flatMap((s: any) => s.targets));
    expect(targets).toEqual([
      `api:${productionConfig(resolved.services.api.environment).http.port}`,
      `worker:${productionConfig(resolved.services.worker.environment).worker.port}`,
    ]);
  });

  it('sends the API and worker traces through an OpenTelemetry Collector to Jaeger, which Grafana reads (observability profile)', () => {
    const { api, worker, grafana, jaeger } = resolved.services;
    const collector = resolved.services['otel-collector'];
    expect(collector.profiles).toEqual(['observability']);
    expect(jaeger.profiles).toEqual(['observability']);
    expect(collector.volumes).toEqual([`${resolve(ROOT, 'deploy', 'otel-collector')}:/etc/otelcol:ro`]);
    expect(collector.command).toEqual(['--config=/etc/otelcol/config.yaml']);
    // Both processes export to the collector's OTLP/HTTP receiver, as distinct services.
    const otel = parse(readFileSync(resolve(ROOT, 'deploy', 'otel-collector', 'config.yaml'), 'utf8'));
    const receiverPort = Number(otel.receivers.otlp.protocols.http.endpoint.split(':')[1]);
    for (const service of [api, worker]) {
      const tracing = productionConfig(service.environment).tracing;
      expect(tracing).toMatchObject({ endpoint: `http://otel-collector:${receiverPort}/v1/traces` });
      expect(collector.ports.map((p: { target: number }) => p.target)).toContain(receiverPort);
    }
    // The collector's trace pipeline ends at Jaeger's OTLP/gRPC port (4317), every component it names defined.
    const pipeline = otel.service.pipelines.traces;
    expect(pipeline.receivers).toEqual(['otlp']);
    for (const name of pipeline.processors) expect(otel.processors).toHaveProperty([name]);
    expect(pipeline.exporters.map((name: string) => otel.exporters[name].endpoint)).toEqual(['jaeger:4317']);
    expect(jaeger.environment.COLLECTOR_OTLP_ENABLED).toBe('true');
    // Grafana's Jaeger data source reaches the query port Jaeger publishes; the dashboard's trace links use its uid.
    const sources = parse(readFileSync(resolve(ROOT, 'deploy/grafana/provisioning/datasources/jaeger.yml'), 'utf8'));
    const source = sources.datasources.find((d: { type: string }) => d.type === 'jaeger');
    const queryPort = Number(new URL(source.url).port);
    expect(new URL(source.url).hostname).toBe('jaeger');
    expect(jaeger.ports.map((p: { target: number }) => p.target)).toContain(queryPort);
    expect(Object.keys(grafana.depends_on)).toEqual(expect.arrayContaining(['jaeger']));
    // The latency and error panels link to a Jaeger search in Explore (the panes are URL-encoded JSON).
    const dashboard = JSON.parse(readFileSync(resolve(ROOT, 'deploy/grafana/resilient-api.dashboard.json'), 'utf8'));
    const traceLinks = dashboard.panels.flatMap((panel: any) =>
      (panel.fieldConfig?.defaults?.links ?? []).map((link: { url: string }) => ({
        title: panel.title,
        url: link.url,
      })),
    );
    expect(traceLinks.map((l: { title: string }) => l.title)).toEqual(
      expect.arrayContaining([
        '5xx ratio by route (objective 99.9 %)',
        'p99 duration by route',
        'Failures by problem code',
      ]),
    );
    for (const { url } of traceLinks) {
      const panes = decodeURIComponent(new URLSearchParams(url.split('?')[1]).get('panes')!);
      expect(panes).toContain(`"datasource":{"type":"jaeger","uid":"${source.uid}"}`);
      expect(panes).toContain('"service":"resilient-api"');
    }
  });

  it("links latency to traces through exemplars: Prometheus keeps them, Grafana's Prometheus source opens their trace_id in Jaeger, the latency panels ask for them", () => {
    const { prometheus, grafana } = resolved.services;
    expect(prometheus.command).toContain('--enable-feature=exemplar-storage');
    const sources = parse(
      readFileSync(resolve(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    );
    const jaeger = parse(readFileSync(resolve(ROOT, 'deploy/grafana/provisioning/datasources/jaeger.yml'), 'utf8'));
    const jaegerUid = jaeger.datasources.find((d: { type: string }) => d.type === 'jaeger').uid;
    const source = sources.datasources.find((d: { type: string }) => d.type === 'prometheus');
    // `trace_id` is the exemplar label the API writes (test/e2e/tracing.e2e-spec.ts reads it back from a real Prometheus).
    expect(source.jsonData.exemplarTraceIdDestinations).toEqual([{ name: 'trace_id', datasourceUid: jaegerUid }]);
    expect(Object.keys(grafana.depends_on)).toEqual(expect.arrayContaining(['prometheus', 'jaeger']));
    const dashboard = JSON.parse(readFileSync(resolve(ROOT, 'deploy/grafana/resilient-api.dashboard.json'), 'utf8'));
    const latencyTargets = dashboard.panels.flatMap((panel: any) =>
      (panel.targets ?? []).filter((t: { expr?: string }) =>
        t.expr?.includes('http_server_request_duration_seconds_bucket'),
      ),
    );
    expect(latencyTargets.length).toBeGreaterThanOrEqual(2);
    for (const target of latencyTargets) expect(target.exemplar).toBe(true);
  });

  it('agrees with the app: ports, health routes, commands, variables, stop grace', () => {
    expect(consistencyProblems(resolved)).toEqual([]);
  });

  it('puts PgBouncer between the apps and Postgres, migrations direct, within the connection budget', () => {
    expect(poolerProblems(resolved)).toEqual([]);
    const mutate = (change: (services: any) => void) => {
      const copy = structuredClone(resolved);
      change(copy.services);
      return poolerProblems(copy);
    };
    expect(mutate((s) => (s.api.environment.DATABASE_URL = s.api.environment.DATABASE_MIGRATION_URL))).toEqual([
      'api DATABASE_URL goes to postgres:5432, not pgbouncer:6432',
    ]);
    expect(mutate((s) => (s.migrate.environment.DATABASE_MIGRATION_URL = s.api.environment.DATABASE_URL))).toEqual([
      'migrate DATABASE_MIGRATION_URL goes to pgbouncer:6432, not postgres:5432',
    ]);
    expect(mutate((s) => (s.api.environment.DB_POOL_MAX = '150'))).toEqual([
      'docker-compose.yml pgbouncer: (1 API + 1 worker processes) x DB_POOL_MAX 150 = 300 clients > max_client_conn 200',
    ]);
    expect(mutate((s) => delete s.worker.depends_on.pgbouncer)).toEqual([
      'worker does not wait for a healthy pgbouncer',
    ]);
  });

  it('fails when one side changes alone (proved on mutated copies)', () => {
    const mutate = (change: (services: any) => void) => {
      const copy = structuredClone(resolved);
      change(copy.services);
      return consistencyProblems(copy);
    };
    expect(mutate((s) => (s.api.environment.PORT = '8080'))).toEqual([
      'api publishes [{"published":3000,"target":3000}], the app listens on 8080',
      'api HEALTHCHECK_URL http://127.0.0.1:3000/health/live, the app answers http://127.0.0.1:8080/health/live',
    ]);
    expect(mutate((s) => (s.worker.environment.HEALTHCHECK_URL = 'http://127.0.0.1:3001/healthz'))).toHaveLength(1);
    expect(mutate((s) => (s.api.stop_grace_period = '10s'))).toEqual([
      'api stop_grace_period 10s is not more than drain 5000 + close 21000 = 26000 ms',
    ]);
    expect(mutate((s) => (s.worker.environment.WORKER_SHUTDOWN_TIMEOUT_MS = '30000'))).toEqual([
      'worker stop_grace_period 30s is not more than worker stop 30000 + 4000 = 34000 ms',
    ]);
    expect(mutate((s) => (s.worker.environment.REDIS_URL = 'http://redis'))).toEqual([
      expect.stringMatching(/^worker: Invalid configuration \(1 variable\):\n {2}- REDIS_URL must be a URL/),
    ]);
    expect(mutate((s) => (s.api.environment.WORKERS = '2'))).toEqual(['api sets WORKERS, which the app does not read']);
    expect(mutate((s) => (s.migrate.command = ['node', 'dist/migrate.js']))).toEqual([
      'migrate runs node dist/migrate.js',
    ]);
  });
});
