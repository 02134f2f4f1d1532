import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { healthPaths, parseDockerfile, productionConfig, type DockerStage } from '../support/deploy.support';
import { containersOf, renderKustomization, type K8sObject } from '../support/kustomize.support';
import { ROOT } from '../support/process.support';

/**
 * Across files: the app's default ports and health route, the Dockerfile (EXPOSE, the
 * HEALTHCHECK's default), docker-compose.yml and the production manifests name the same ones.
 * (Each file's own consistency with the app is in docker-image, deploy-compose and deploy-k8s.)
 */
interface Sources {
  dockerfile: DockerStage[];
  compose: any;
  k8s: K8sObject[];
}

function load(): Sources {
  return {
    dockerfile: parseDockerfile(),
    compose: parse(readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }),
    k8s: renderKustomization(resolve(ROOT, 'deploy', 'k8s', 'overlays', 'production')),
  };
}

function problems({ dockerfile, compose, k8s }: Sources): string[] {
  const defaults = productionConfig();
  const expected = { api: defaults.http.port, worker: defaults.worker.port, fakePayments: defaults.payments.fakePort };
  const found: [string, number | undefined, number][] = [];
  const runtime = dockerfile[dockerfile.length - 1];
  // The production image runs the API and the worker; the fake provider has its own target (fake-payments).
  const exposed = (stage: DockerStage | undefined) =>
    (stage?.steps ?? [])
      .filter((s) => s.instruction === 'EXPOSE')
      .flatMap((s) => s.args.split(/\s+/))
      .map(Number);
  const fakeStage = dockerfile.find((s) => s.name === 'fake-payments');
  for (const [stage, port] of [
    [runtime, expected.api],
    [runtime, expected.worker],
    [fakeStage, expected.fakePayments],
  ] as const) {
    const where = stage === runtime ? `Dockerfile EXPOSE ${port}` : `Dockerfile fake-payments EXPOSE ${port}`;
    found.push([where, exposed(stage).includes(port) ? port : undefined, port]);
  }
  const healthcheck = runtime.steps.find((s) => s.instruction === 'HEALTHCHECK')?.exec?.join(' ') ?? '';
  const fallback = /process\.env\.PORT \|\| (\d+)/.exec(healthcheck)?.[1];
  found.push(['Dockerfile HEALTHCHECK default port', Number(fallback), expected.api]);
  const problems = found
    .filter(([, got, want]) => got !== want)
    .map(([where, got, want]) => `${where}: ${got}, the app's default is ${want}`);
  if (!healthcheck.includes(`${healthPaths().live}\``))
    problems.push(`Dockerfile HEALTHCHECK does not default to ${healthPaths().live}`);

  const composePort = (service: string, variable: string) => Number(compose.services[service].environment[variable]);
  const configMap = k8s.find((o) => o.kind === 'ConfigMap')!.data;
  // The app's workloads by name (PgBouncer is a Deployment too).
  const containerPort = (kind: string) =>
    containersOf(k8s.find((o) => o.kind === kind && ['api', 'worker'].includes(o.metadata.name))!)[0].ports[0]
      .containerPort;
  for (const [where, got, want] of [
    ['docker-compose.yml api PORT', composePort('api', 'PORT'), expected.api],
    ['docker-compose.yml worker WORKER_PORT', composePort('worker', 'WORKER_PORT'), expected.worker],
    [
      'docker-compose.yml fake-payments FAKE_PAYMENTS_PORT',
      composePort('fake-payments', 'FAKE_PAYMENTS_PORT'),
      expected.fakePayments,
    ],
    ['deploy/k8s ConfigMap PORT', Number(configMap.PORT), expected.api],
    ['deploy/k8s ConfigMap WORKER_PORT', Number(configMap.WORKER_PORT), expected.worker],
    ['deploy/k8s Rollout api containerPort', containerPort('Rollout'), expected.api],
    ['deploy/k8s Deployment worker containerPort', containerPort('Deployment'), expected.worker],
  ] as const) {
    if (got !== want) problems.push(`${where}: ${got}, the app's default is ${want}`);
  }
  const drain = [compose.services.api.environment.SHUTDOWN_DRAIN_MS, configMap.SHUTDOWN_DRAIN_MS].map(Number);
  if (drain.some((ms) => ms !== defaults.shutdown.drainMs)) {
    problems.push(
      `SHUTDOWN_DRAIN_MS compose ${drain[0]}, k8s ${drain[1]}, the app's production default ${defaults.shutdown.drainMs}`,
    );
  }
  return problems;
}

describe('delivery files agree with each other and with the app defaults (F11, F32, F37)', () => {
  const sources = load();

  it('name the same ports, health route and drain everywhere', () => {
    expect(problems(sources)).toEqual([]);
  });

  it('fail when one file changes alone (proved on mutated copies)', () => {
    const mutate = (change: (s: Sources) => void) => {
      const copy = structuredClone(sources);
      change(copy);
      return problems(copy);
    };
    const runtime = (s: Sources) => s.dockerfile[s.dockerfile.length - 1];
    expect(
      mutate((s) => {
        const expose = runtime(s).steps.find((step) => step.instruction === 'EXPOSE')!;
        expose.args = expose.args.replace('3001', '9001');
      }),
    ).toEqual(["Dockerfile EXPOSE 3001: undefined, the app's default is 3001"]);
    expect(
      mutate((s) => {
        const check = runtime(s).steps.find((step) => step.instruction === 'HEALTHCHECK')!;
        check.exec = check.exec!.map((a) => a.replace('|| 3000', '|| 8080').replace('/health/live', '/healthz'));
      }),
    ).toEqual([
      "Dockerfile HEALTHCHECK default port: 8080, the app's default is 3000",
      'Dockerfile HEALTHCHECK does not default to /health/live',
    ]);
    expect(mutate((s) => (s.compose.services.worker.environment.WORKER_PORT = '3005'))).toEqual([
      "docker-compose.yml worker WORKER_PORT: 3005, the app's default is 3001",
    ]);
    expect(mutate((s) => (s.k8s.find((o) => o.kind === 'ConfigMap')!.data.SHUTDOWN_DRAIN_MS = '2000'))).toEqual([
      "SHUTDOWN_DRAIN_MS compose 5000, k8s 2000, the app's production default 5000",
    ]);
  });
});
