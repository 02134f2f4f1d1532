import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * The subset of Kustomize that deploy/k8s uses, rendered here because kustomize does not
 * install on this machine: `resources` (files and directories), `namespace`, `patches` (by
 * path: strategic-merge style, target named by apiVersion, kind and metadata.name in the
 * patch; lists of named items such as containers merge by name) and `images`. Any other key
 * fails the render, so a new Kustomize feature in the manifests cannot be silently ignored.
 */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: any;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'patches', 'images']);

export function loadYamlDocuments(file: string): any[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  });
}

function kustomizationFile(dir: string): string {
  const file = ['kustomization.yaml', 'kustomization.yml'].map((f) => resolve(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`no kustomization.yaml in ${dir}`);
  return file;
}

const isObject = (value: unknown): value is Record<string, any> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isNamedList = (value: unknown): value is { name: string }[] =>
  Array.isArray(value) && value.length > 0 && value.every((item) => isObject(item) && typeof item.name === 'string');

/** Strategic-merge style: objects merge, lists of named items merge by name, anything else is replaced. */
export function mergePatch(base: any, patch: any): any {
  if (isObject(base) && isObject(patch)) {
    const out: Record<string, any> = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = key in base ? mergePatch(base[key], value) : value;
    }
    return out;
  }
  if (isNamedList(base) && isNamedList(patch)) {
    const out = base.map((item) => {
      const change = patch.find((p) => p.name === item.name);
      return change ? mergePatch(item, change) : item;
    });
    return [...out, ...patch.filter((p) => !base.some((item) => item.name === p.name))];
  }
  return patch;
}

const same = (a: K8sObject, b: K8sObject) =>
  a.apiVersion === b.apiVersion && a.kind === b.kind && a.metadata?.name === b.metadata?.name;

/** Every container of every workload kind we use (Rollout, Deployment, Job). */
export function containersOf(object: K8sObject): Record<string, any>[] {
  const spec = object.spec?.template?.spec;
  return spec ? [...(spec.initContainers ?? []), ...(spec.containers ?? [])] : [];
}

export function renderKustomization(dir: string): K8sObject[] {
  const file = kustomizationFile(dir);
  const [k] = loadYamlDocuments(file);
  const unknown = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unknown.length)
    throw new Error(`${file}: unsupported Kustomize keys ${unknown.join(', ')} (extend the renderer)`);
  let objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = resolve(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : loadYamlDocuments(path)));
  }
  for (const entry of k.patches ?? []) {
    if (!entry.path || entry.target || entry.patch) throw new Error(`${file}: only patches by path are supported`);
    for (const patch of loadYamlDocuments(resolve(dir, entry.path)) as K8sObject[]) {
      const index = objects.findIndex((o) => same(o, patch));
      if (index < 0) throw new Error(`${entry.path}: no ${patch.kind} ${patch.metadata?.name} to patch`);
      objects[index] = mergePatch(objects[index], patch);
    }
  }
  if (k.namespace) objects = objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: k.namespace } }));
  for (const image of k.images ?? []) {
    for (const container of objects.flatMap(containersOf)) {
      const name = String(container.image)
        .split('@')[0]
        .replace(/:[^/:]+$/, '');
      if (name !== image.name) continue;
      const ref = image.newName ?? name;
      container.image = image.digest ? `${ref}@${image.digest}` : `${ref}:${image.newTag ?? 'latest'}`;
    }
  }
  return objects;
}

/**
 * Validates objects against the Kubernetes 1.27 and Argo Rollouts schemas of kubernetes-models
 * (ES modules only, which Jest's CommonJS runtime cannot load: a child Node process does it).
 * Returns one message per invalid object.
 */
export function validateK8s(objects: K8sObject[]): string[] {
  const script = resolve(__dirname, 'k8s-validate.support.mjs');
  const run = spawnSync(process.execPath, [script], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (run.status !== 0) throw new Error(`k8s validator failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout);
}
