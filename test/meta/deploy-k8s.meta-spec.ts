import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { AppConfig } from '../../src/config/config.schemas';
import { APP_VARIABLES, ENTRY_POINTS, healthPaths, productionConfig, stopBound } from '../support/deploy.support';
import {
  containersOf,
  loadYamlDocuments,
  renderKustomization,
  validateK8s,
  type K8sObject,
} from '../support/kustomize.support';
import { connectionBudgetProblems, parsePgbouncerIni } from '../support/connection-budget.support';
import { ROOT } from '../support/process.support';

/**
 * deploy/k8s (F31, F32, F37): each overlay rendered (test/support/kustomize.support.ts), checked
 * against the Kubernetes 1.27 and Argo Rollouts schemas, and against the app itself: ports,
 * probe paths, drain and grace periods, variable names, the gate's queries.
 */
const K8S = resolve(ROOT, 'deploy', 'k8s');
const OVERLAYS = ['staging', 'production'];
const clone = <T>(value: T): T => structuredClone(value);
const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};

/** The configuration the containers get: the ConfigMap they load, parsed by the app's own schema. */
function containerConfig(objects: K8sObject[]): { config: AppConfig; problems: string[] } {
  const problems: string[] = [];
  const data = find(objects, 'ConfigMap', 'resilient-api-config').data as Record<string, string>;
  for (const name of Object.keys(data))
    if (!APP_VARIABLES.has(name)) problems.push(`ConfigMap sets ${name}, which the app does not read`);
  return { config: productionConfig(data), problems };
}

/** The app's own workloads (the image resilient-api), not the pooler beside them. */
const isApp = (object: K8sObject) => object.metadata.name !== 'pgbouncer';

/** The Secret the apps load (secret.example.yaml's first document; applied by hand, not rendered). */
const appSecret = () => loadYamlDocuments(resolve(K8S, 'base', 'secret.example.yaml'))[0] as K8sObject;

/**
 * The pooler and the connection budget (issue 19): the apps reach Postgres through the PgBouncer
 * Service, migrations reach it directly, TRUSTED_PROXIES is set, and the pools of the fleet at its
 * peak fit PgBouncer's limits, whose server connections fit Postgres' max_connections.
 */
function poolerProblems(objects: K8sObject[], secret: K8sObject): string[] {
  const { config } = containerConfig(objects);
  const problems: string[] = [];
  const pooler = find(objects, 'Deployment', 'pgbouncer');
  const service = find(objects, 'Service', 'pgbouncer');
  const ini = parsePgbouncerIni(find(objects, 'ConfigMap', 'pgbouncer-config').data['pgbouncer.ini']);
  const data = secret.stringData as Record<string, string>;
  const through = new URL(data.DATABASE_URL);
  const servicePort = service.spec.ports[0].port;
  if (through.hostname !== service.metadata.name || Number(through.port) !== servicePort) {
    problems.push(`DATABASE_URL goes to ${through.host}, not the PgBouncer Service pgbouncer:${servicePort}`);
  }
  const backend = /host=(\S+)\s+port=(\d+)/.exec(Object.values(ini.databases ?? {})[0] ?? '');
  const direct = data.DATABASE_MIGRATION_URL ? new URL(data.DATABASE_MIGRATION_URL) : undefined;
  if (!direct || direct.hostname !== backend?.[1] || direct.port !== backend?.[2]) {
    problems.push(
      `DATABASE_MIGRATION_URL goes to ${direct?.host}, not Postgres itself (${backend?.[1]}:${backend?.[2]}, where PgBouncer connects)`,
    );
  }
  if (direct && direct.pathname !== through.pathname) {
    problems.push(`DATABASE_MIGRATION_URL names database ${direct.pathname}, DATABASE_URL ${through.pathname}`);
  }
  const [migrate] = containersOf(find(objects, 'Job', 'db-migrate'));
  const loads = (migrate.envFrom ?? []).some(
    (e: { secretRef?: { name: string } }) => e.secretRef?.name === secret.metadata.name,
  );
  const overridden = (migrate.env ?? []).some((e: { name: string }) => /^DATABASE_(MIGRATION_)?URL$/.test(e.name));
  if (!loads || overridden)
    problems.push('Job db-migrate does not take DATABASE_MIGRATION_URL from the Secret as it is');
  if (config.trustedProxies.length === 0)
    problems.push('TRUSTED_PROXIES is not set: behind the ingress every client is one address');

  const rollout = find(objects, 'Rollout', 'api');
  const hpa = find(objects, 'HorizontalPodAutoscaler', 'api');
  const worker = find(objects, 'Deployment', 'worker');
  const surge = (deployment: K8sObject) => Number(deployment.spec.strategy?.rollingUpdate?.maxSurge ?? 1);
  const annotations = (pooler.metadata.annotations ?? {}) as Record<string, string>;
  const annotation = (name: string) => Number(annotations[`resilient-api/${name}`]);
  const workerPeak = worker.spec.replicas + surge(worker);
  problems.push(
    ...connectionBudgetProblems(
      {
        // With traffic routing, Argo Rollouts keeps the stable ReplicaSet at full size while the
        // canary scales up to its weight: at 100 %, before promotion, both run every replica.
        apiPeak: (rollout.spec.strategy.canary.trafficRouting ? 2 : 1) * hpa.spec.maxReplicas,
        workerPeak,
        poolMax: config.database.poolMax,
        migrators: workerPeak + 1,
        pooler: { replicas: pooler.spec.replicas + surge(pooler), ini },
        postgres: {
          maxConnections: annotation('postgres-max-connections'),
          superuserReserved: annotation('postgres-superuser-reserved-connections'),
        },
        requestDeadlineMs: config.http.requestDeadlineMs,
      },
      'deploy/k8s',
    ),
  );
  return problems;
}

/** Every disagreement between the manifests and the app; empty when consistent. */
function consistencyProblems(objects: K8sObject[]): string[] {
  const { config, problems } = containerConfig(objects);
  const paths = healthPaths();
  const portOf = (container: Record<string, any>, ref: string | number) =>
    typeof ref === 'number' ? ref : container.ports?.find((p: { name: string }) => p.name === ref)?.containerPort;
  const workload = (kind: string, name: string, command: string, port: number, preStopNeeded: boolean) => {
    const object = find(objects, kind, name);
    const [container] = containersOf(object);
    const where = `${kind} ${name}`;
    if (container.command?.join(' ') !== `node ${command}`)
      problems.push(`${where} runs ${container.command?.join(' ')}, not node ${command}`);
    if (!container.ports?.some((p: { containerPort: number }) => p.containerPort === port)) {
      problems.push(`${where} exposes ${JSON.stringify(container.ports)}, the app listens on ${port}`);
    }
    const annotations = object.spec.template.metadata.annotations ?? {};
    if (annotations['prometheus.io/port'] !== String(port))
      problems.push(`${where} is scraped on ${annotations['prometheus.io/port']}, not ${port}`);
    for (const [probe, path] of [
      ['startupProbe', paths.live],
      ['livenessProbe', paths.live],
      ['readinessProbe', paths.ready],
    ] as const) {
      const get = container[probe]?.httpGet;
      if (get?.path !== path) problems.push(`${where} ${probe} path ${get?.path}, the app serves ${path}`);
      if (portOf(container, get?.port) !== port) problems.push(`${where} ${probe} port ${get?.port} is not ${port}`);
    }
    const sleep = container.lifecycle?.preStop?.exec?.command;
    const preStopMs = sleep?.[0] === 'sleep' ? Number(sleep[1]) * 1000 : 0;
    if (preStopNeeded && preStopMs < config.shutdown.drainMs) {
      problems.push(`${where} preStop sleeps ${preStopMs} ms, less than the drain of ${config.shutdown.drainMs} ms`);
    }
    const graceMs = object.spec.template.spec.terminationGracePeriodSeconds * 1000;
    const { ms: stopMs, what: stopWhat } = stopBound(command, config);
    if (!(graceMs > preStopMs + stopMs)) {
      problems.push(
        `${where} terminationGracePeriodSeconds ${graceMs / 1000} s is not more than preStop ${preStopMs} + ${stopWhat} = ${preStopMs + stopMs} ms`,
      );
    }
  };
  workload('Rollout', 'api', ENTRY_POINTS.api, config.http.port, true);
  workload('Deployment', 'worker', ENTRY_POINTS.worker, config.worker.port, false);
  const [migrate] = containersOf(find(objects, 'Job', 'db-migrate'));
  if (migrate.command?.join(' ') !== `node ${ENTRY_POINTS.migrate}`)
    problems.push(`Job db-migrate runs ${migrate.command}`);
  for (const name of ['api', 'api-canary']) {
    const port = find(objects, 'Service', name).spec.ports[0].targetPort;
    if (portOf(containersOf(find(objects, 'Rollout', 'api'))[0], port) !== config.http.port) {
      problems.push(`Service ${name} targets ${port}, not the API's port ${config.http.port}`);
    }
  }
  const images = new Set(
    objects
      .filter(isApp)
      .flatMap(containersOf)
      .map((c) => c.image),
  );
  if (images.size !== 1) problems.push(`one image for every command, got ${[...images].join(', ')}`);
  return problems;
}

describe('Kubernetes manifests (F31, F32, F37)', () => {
  const rendered = Object.fromEntries(
    OVERLAYS.map((name) => [name, renderKustomization(resolve(K8S, 'overlays', name))]),
  );

  it.each(OVERLAYS)('%s renders to valid Kubernetes and Argo Rollouts objects', (overlay) => {
    const objects = rendered[overlay];
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        'AnalysisTemplate/api-canary-health',
        'ConfigMap/pgbouncer-config',
        'ConfigMap/resilient-api-config',
        'Deployment/pgbouncer',
        'Deployment/worker',
        'HorizontalPodAutoscaler/api',
        'Ingress/api',
        'Job/db-migrate',
        'PodDisruptionBudget/api',
        'PodDisruptionBudget/pgbouncer',
        'PodDisruptionBudget/worker',
        'Rollout/api',
        'Service/api',
        'Service/api-canary',
        'Service/pgbouncer',
      ].sort(),
    );
    expect(new Set(objects.map((o) => o.metadata.namespace))).toEqual(
      new Set([overlay === 'production' ? 'resilient-api' : 'resilient-api-staging']),
    );
    expect(validateK8s(objects)).toEqual([]);
  });

  it('applies the overlay patches (merging containers by name) and images', () => {
    const api = find(rendered.production, 'Rollout', 'api');
    expect(api.spec.replicas).toBe(4);
    const [container] = containersOf(api);
    expect(container.resources.requests).toEqual({ cpu: '500m', memory: '384Mi' });
    expect(container.readinessProbe.httpGet.path).toBe('/health/ready'); // kept from the base
    expect(container.image).toBe('ghcr.io/example/resilient-api:latest');
    expect(find(rendered.staging, 'ConfigMap', 'resilient-api-config').data.LOG_LEVEL).toBe('debug');
  });

  it('has a validator that rejects what the cluster would reject', () => {
    const broken = clone(rendered.production);
    containersOf(find(broken, 'Rollout', 'api'))[0].ports[0].containerPort = 'http';
    find(broken, 'Deployment', 'worker').spec.replicas = 'three';
    const errors = validateK8s(broken);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^Rollout api: .*containerPort/);
    expect(errors[1]).toMatch(/^Deployment worker: .*replicas/);
  });

  it('documents a Secret that validates, and every ConfigMap and Secret key is a variable the app reads', () => {
    const documents = loadYamlDocuments(resolve(K8S, 'base', 'secret.example.yaml'));
    expect(validateK8s(documents)).toEqual([]);
    const secret = appSecret();
    const keys = [
      ...Object.keys(secret.stringData),
      ...Object.keys(find(rendered.production, 'ConfigMap', 'resilient-api-config').data),
    ];
    expect(keys.filter((k) => !APP_VARIABLES.has(k))).toEqual([]);
    // The contract's variables, except the fake provider's port (not deployed here).
    for (const name of [
      'NODE_ENV',
      'PORT',
      'DATABASE_URL',
      'DATABASE_MIGRATION_URL',
      'REDIS_URL',
      'PAYMENTS_BASE_URL',
      'WORKER_PORT',
      'JWT_SECRET',
      'LOG_LEVEL',
    ]) {
      expect(keys).toContain(name);
    }
    // Every app workload loads both.
    for (const container of rendered.production.filter(isApp).flatMap(containersOf)) {
      expect(container.envFrom).toEqual([
        { configMapRef: { name: 'resilient-api-config' } },
        { secretRef: { name: secret.metadata.name } },
      ]);
    }
  });

  it.each(OVERLAYS)('%s agrees with the app: ports, probe paths, drain, grace period, commands', (overlay) => {
    expect(consistencyProblems(rendered[overlay])).toEqual([]);
  });

  it('fails when one side changes alone (proved on mutated copies)', () => {
    const mutate = (change: (objects: K8sObject[]) => void) => {
      const copy = clone(rendered.production);
      change(copy);
      return consistencyProblems(copy);
    };
    const api = (o: K8sObject[]) => containersOf(find(o, 'Rollout', 'api'))[0];
    expect(mutate((o) => (api(o).readinessProbe.httpGet.path = '/healthz'))).toEqual([
      'Rollout api readinessProbe path /healthz, the app serves /health/ready',
    ]);
    expect(mutate((o) => (find(o, 'ConfigMap', 'resilient-api-config').data.PORT = '8080'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Rollout api exposes .*, the app listens on 8080$/)]),
    );
    expect(mutate((o) => (api(o).ports[0].containerPort = 8080))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Rollout api livenessProbe port http is not 3000$/)]),
    );
    expect(mutate((o) => (find(o, 'ConfigMap', 'resilient-api-config').data.SHUTDOWN_DRAIN_MS = '60000'))).toEqual([
      'Rollout api preStop sleeps 5000 ms, less than the drain of 60000 ms',
      'Rollout api terminationGracePeriodSeconds 45 s is not more than preStop 5000 + drain 60000 + close 21000 = 86000 ms',
    ]);
    // In-flight wait and close deadlines count too, and the worker's stop bound for the worker.
    expect(
      mutate((o) => (find(o, 'ConfigMap', 'resilient-api-config').data.SHUTDOWN_INFLIGHT_TIMEOUT_MS = '30000')),
    ).toEqual([
      'Rollout api terminationGracePeriodSeconds 45 s is not more than preStop 5000 + drain 5000 + close 41000 = 51000 ms',
    ]);
    expect(
      mutate((o) => (find(o, 'ConfigMap', 'resilient-api-config').data.WORKER_SHUTDOWN_TIMEOUT_MS = '60000')),
    ).toEqual([
      'Deployment worker terminationGracePeriodSeconds 60 s is not more than preStop 0 + worker stop 60000 + 4000 = 64000 ms',
    ]);
    expect(mutate((o) => (api(o).lifecycle.preStop.exec.command = ['sleep', '1']))).toEqual([
      'Rollout api preStop sleeps 1000 ms, less than the drain of 5000 ms',
    ]);
    expect(
      mutate((o) => (find(o, 'Rollout', 'api').spec.template.spec.terminationGracePeriodSeconds = 20)),
    ).toHaveLength(1);
    expect(mutate((o) => (find(o, 'ConfigMap', 'resilient-api-config').data.WORKERS = '2'))).toEqual([
      'ConfigMap sets WORKERS, which the app does not read',
    ]);
    expect(mutate((o) => (containersOf(find(o, 'Deployment', 'worker'))[0].image = 'other'))).toEqual([
      expect.stringMatching(/^one image for every command/),
    ]);
  });

  it.each(OVERLAYS)(
    '%s puts PgBouncer between the apps and Postgres, migrations direct, and the fleet within its connection budget',
    (overlay) => {
      expect(poolerProblems(rendered[overlay], appSecret())).toEqual([]);
    },
  );

  it('fails the connection budget when one number changes alone (proved on mutated copies)', () => {
    const mutate = (change: (objects: K8sObject[], secret: K8sObject) => void) => {
      const copy = clone(rendered.production);
      const secret = clone(appSecret());
      change(copy, secret);
      return poolerProblems(copy, secret);
    };
    const ini = (o: K8sObject[]) => find(o, 'ConfigMap', 'pgbouncer-config').data;
    const setIni = (o: K8sObject[], key: string, value: string) =>
      (ini(o)['pgbouncer.ini'] = ini(o)['pgbouncer.ini'].replace(
        new RegExp(`^${key} = .*$`, 'm'),
        `${key} = ${value}`,
      ));
    expect(mutate((o) => (find(o, 'HorizontalPodAutoscaler', 'api').spec.maxReplicas = 60))).toEqual([
      'deploy/k8s: (120 API + 4 worker processes) x DB_POOL_MAX 10 = 1240 clients > max_client_conn 1000',
    ]);
    expect(mutate((o) => (find(o, 'ConfigMap', 'resilient-api-config').data.DB_POOL_MAX = '30'))).toEqual([
      'deploy/k8s: (40 API + 4 worker processes) x DB_POOL_MAX 30 = 1320 clients > max_client_conn 1000',
    ]);
    expect(mutate((o) => (find(o, 'Deployment', 'pgbouncer').spec.replicas = 3))).toEqual([
      'deploy/k8s: 3 poolers x 40 server connections = 120 > Postgres max_connections 100 - reserved 3 - migrations 15 = 82',
    ]);
    expect(mutate((o) => (find(o, 'Deployment', 'pgbouncer').spec.strategy.rollingUpdate.maxSurge = 1))).toHaveLength(
      1,
    );
    expect(mutate((o) => setIni(o, 'query_wait_timeout', '120'))).toEqual([
      'deploy/k8s: query_wait_timeout 120 s is not within half the request deadline (10000 ms)',
    ]);
    expect(mutate((o) => setIni(o, 'pool_mode', 'session'))).toEqual([
      'deploy/k8s: pool_mode session, not transaction',
    ]);
    expect(mutate((_, secret) => (secret.stringData.DATABASE_URL = secret.stringData.DATABASE_MIGRATION_URL))).toEqual([
      'DATABASE_URL goes to postgres:5432, not the PgBouncer Service pgbouncer:6432',
    ]);
    expect(mutate((_, secret) => (secret.stringData.DATABASE_MIGRATION_URL = secret.stringData.DATABASE_URL))).toEqual([
      'DATABASE_MIGRATION_URL goes to pgbouncer:6432, not Postgres itself (postgres:5432, where PgBouncer connects)',
    ]);
    expect(
      mutate((o) => {
        containersOf(find(o, 'Job', 'db-migrate'))[0].env = [
          { name: 'DATABASE_MIGRATION_URL', value: 'postgres://x@pgbouncer:6432/y' },
        ];
      }),
    ).toEqual(['Job db-migrate does not take DATABASE_MIGRATION_URL from the Secret as it is']);
    expect(mutate((o) => delete find(o, 'ConfigMap', 'resilient-api-config').data.TRUSTED_PROXIES)).toEqual([
      'TRUSTED_PROXIES is not set: behind the ingress every client is one address',
    ]);
  });

  it('runs the canary 10% -> 50% -> 100% with analysis on the same queries and thresholds as the gate', () => {
    const rollout = find(rendered.production, 'Rollout', 'api');
    expect(rollout.spec.strategy.canary.steps).toEqual([
      { setWeight: 10 },
      { pause: {} },
      { setWeight: 50 },
      { pause: {} },
      { setWeight: 100 },
    ]);
    expect(rollout.spec.strategy.canary.canaryMetadata.labels).toEqual({ track: 'canary' });
    // User requests reach the canary: ingress-nginx splits the Ingress api by the step's weight
    // between the stable and canary Services (without trafficRouting no user reaches the canary).
    const { stableService, canaryService, trafficRouting } = rollout.spec.strategy.canary;
    expect(trafficRouting).toEqual({ nginx: { stableIngress: 'api' } });
    const ingress = find(rendered.production, 'Ingress', 'api');
    const backends = ingress.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => [p.path, p.backend.service]));
    expect(new Set(backends.map(([, service]: any) => service.name))).toEqual(new Set([stableService]));
    expect(find(rendered.production, 'Service', canaryService).spec.ports[0].name).toBe(backends[0][1].port.name);
    // Probes and scrapes stay inside the cluster.
    for (const [path] of backends) expect(['/', '/metrics', '/health']).not.toContain(path);
    expect(rollout.spec.strategy.canary.stableMetadata.labels).toEqual({ track: 'stable' });
    const template = find(rendered.production, 'AnalysisTemplate', 'api-canary-health');
    expect(rollout.spec.strategy.canary.analysis.templates).toEqual([{ templateName: template.metadata.name }]);

    const gate = resolve(ROOT, 'scripts', 'rollout-gate.mjs');
    const q = JSON.parse(
      execFileSync(
        process.execPath,
        [gate, '--print-queries', '--app', '{{args.app}}', '--selector', 'namespace="{{args.namespace}}"'],
        {
          encoding: 'utf8',
        },
      ),
    );
    const defaults = Object.fromEntries(
      [
        ...execFileSync(process.execPath, [gate, '--help'], { encoding: 'utf8' }).matchAll(
          /--([\w-]+) .*default ([\d.]+)\)/g,
        ),
      ].map(([, name, value]) => [name, value]),
    );
    const enough = (e: string) => `(${e}) and on() (${q.canaryRequests} >= ${defaults['min-requests']})`;
    const expected = [
      ['canary-up', q.canaryUp, '1'],
      ['canary-5xx-ratio', enough(q.canaryErrorRatio), defaults['max-error-ratio']],
      [
        'canary-5xx-ratio-vs-stable',
        enough(`(${q.canaryErrorRatio}) - ${defaults['error-ratio-factor']} * (${q.stableErrorRatio})`),
        defaults['error-ratio-slack'],
      ],
      ['canary-p99', enough(q.canaryP99), defaults['max-p99-seconds']],
      [
        'canary-p99-vs-stable',
        enough(`(${q.canaryP99}) - ${defaults['p99-factor']} * (${q.stableP99})`),
        defaults['p99-slack-seconds'],
      ],
    ];
    expect(
      template.spec.metrics.map((m: any) => [
        m.name,
        m.provider.prometheus.query,
        m.failureCondition.replace(/^.*[<>] /, ''),
      ]),
    ).toEqual(expected);
    expect(template.spec.metrics[0].failureCondition).toBe('len(result) > 0 && result[0] < 1');
    for (const metric of template.spec.metrics.slice(1)) {
      expect(metric.failureCondition).toMatch(/^len\(result\) > 0 && result\[0\] > [\d.]+$/);
      expect(metric.successCondition).toBeUndefined(); // it never promotes: the pauses wait for the gate
    }
  });
});
