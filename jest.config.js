// Jest runs TypeScript through SWC. NestJS 12 ships ES modules only, so SWC also
// rewrites those packages (and the few other ESM-only ones) to CommonJS. On Node 24
// Jest 30 can require() ES modules itself, but only under --experimental-vm-modules
// (it needs vm.SourceTextModule), and the suite measured slower that way (85-109 s
// against 47-64 s with this transform, on the suite of 2026-11): kept on purpose, see docs/development.md "Tests".
// Kept in a .js file on purpose: a .ts config would need ts-node, which Jest would
// load before any of this.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2023',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];
const esmPackages = [
  '@nestjs',
  'file-type',
  'strtok3',
  'token-types',
  'uint8array-extras',
  '@tokenizer',
  '@borewit',
  'es-toolkit',
  'content-disposition',
  'cookie',
  'set-cookie-parser',
];
const common = {
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  // The typed client (client/) is ES-module TypeScript: its relative imports name the emitted `.js` file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  // The problem-type registry, built from its one list as every entry point does (test/support/problem-catalog.setup.ts).
  setupFiles: ['<rootDir>/test/support/problem-catalog.setup.ts'],
  // Fails any test during which a log line repeated a JSON key (test/support/log-keys.setup.ts).
  setupFilesAfterEnv: ['<rootDir>/test/support/log-keys.setup.ts'],
};
module.exports = {
  // Root-level so they run once for all projects: build dist/ and create the template database.
  globalSetup: '<rootDir>/test/support/global.setup.ts',
  globalTeardown: '<rootDir>/test/support/global.teardown.ts',
  ...common,
  // Tests are I/O-bound (real Postgres, Redis, child processes): more workers than cores pays off.
  maxWorkers: 3,
  // A global option (Jest ignores it per project). Real servers and child processes,
  // on a loaded 2-core CI machine: generous, and each slow step has its own tighter bound.
  testTimeout: 30_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/client/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    { ...common, displayName: 'faults', testMatch: ['<rootDir>/test/faults/**/*.fault-spec.ts'] },
    // Real fleets (test/support/fleet.support.ts): PgBouncer, nginx, two APIs, two workers, the fake provider;
    // and a real three-node Redis Cluster.
    { ...common, displayName: 'fleet', testMatch: ['<rootDir>/test/fleet/**/*.fleet-spec.ts'] },
    // Tests of the repository itself (lint rules, README fix map, pinned versions) and of its delivery
    // files (Dockerfile replay, compose, workflows, Kubernetes, rollout gate): no in-process app.
    { ...common, displayName: 'meta', testMatch: ['<rootDir>/test/meta/**/*.meta-spec.ts'] },
    // The invariant soak's short seeded run (test/soak): the whole system under a workload and random faults.
    { ...common, displayName: 'soak', testMatch: ['<rootDir>/test/soak/**/*.soak-spec.ts'] },
  ],
};
