// Reads Kubernetes objects (a JSON array) on stdin, validates each with kubernetes-models and
// @kubernetes-models/argo-rollouts, and prints a JSON array of error messages (empty: all valid).
// A child process of test/support/kustomize.support.ts: the models are ES modules only.
import { readFileSync } from 'node:fs';

const objects = JSON.parse(readFileSync(0, 'utf8'));
const errors = [];
for (const object of objects) {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const module =
    group === 'argoproj.io'
      ? `@kubernetes-models/argo-rollouts/argoproj.io/${version}/${object.kind}`
      : `kubernetes-models/${group ? `${group}/` : ''}${version}/${object.kind}`;
  const where = `${object.kind} ${object.metadata?.name}`;
  let Model;
  try {
    Model = (await import(module))[object.kind];
  } catch {
    errors.push(`${where}: no schema for ${object.apiVersion} ${object.kind}`);
    continue;
  }
  try {
    new Model(object).validate();
  } catch (error) {
    errors.push(`${where}: ${error.message}`);
  }
}
process.stdout.write(JSON.stringify(errors));
