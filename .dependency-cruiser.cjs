// Import boundaries, checked by `npm run lint` (depcruise src --config .dependency-cruiser.cjs).
// Conventions on paper drift; these fail the build instead:
// - platform/ is cross-cutting and never imports a feature (features depend on it, not the reverse);
// - platform/ has three layers, each a folder: kernel/ <- adapters/ <- edge/. No import runs up a
//   layer, every platform file sits in one of them, and no two folders inside platform/ import each
//   other in a cycle (docs/development.md, "Layout", draws the picture);
// - one way to a queue: only platform/adapters/queue/ uses BullMQ at run time (a handle from
//   QueueProducerService.queue(name), a consumer through QueueWorkersService.register());
// - entry points live at the root of src/ and nothing imports one (eslint keeps them there);
// - application code never imports test code;
// - feature folders do not depend on each other in a cycle;
// - code that ships (everything but specs) imports only runtime dependencies, since the
//   Docker image installs with `npm ci --omit=dev`.
/**
 * A feature folder: any folder directly under src/ other than platform/ and config/. Found by
 * exclusion, not by a list of names, so a new feature (src/jobs/) is covered the day it appears.
 * One capture group (the folder name), which the cycle rules refer to as $1.
 */
const FEATURES = '((?!(?:platform|config)(?:/|$))[^/.]+)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'platform-not-to-feature',
      comment:
        'src/platform/ is shared by every feature and must not know any of them. Move the shared ' +
        'piece into platform/, or invert the dependency (the feature registers itself with platform).',
      severity: 'error',
      from: { path: '^src/platform/' },
      to: { path: `^src/${FEATURES}/` },
    },
    {
      name: 'platform-not-to-composition-root',
      comment:
        'src/platform/ must not import the files at the root of src/ (main.ts, core.module.ts, app.module.ts, ' +
        'commands): they compose the features, so the import would reach every feature.',
      severity: 'error',
      from: { path: '^src/platform/' },
      to: { path: '^src/[^/]+\\.ts$' },
    },
    {
      name: 'platform-kernel-not-up',
      comment:
        'src/platform/kernel/ (errors, failure types, correlation, logging, metrics, tracing, resilience ' +
        'primitives, lifecycle) is the bottom layer: everything stands on it, so it imports nothing from ' +
        'adapters/ or edge/. Move the piece it needs down into the kernel, or invert the dependency ' +
        '(the upper layer passes it in or registers it).',
      severity: 'error',
      from: { path: '^src/platform/kernel/' },
      to: { path: '^src/platform/(adapters|edge)/' },
    },
    {
      name: 'platform-adapters-not-to-edge',
      comment:
        'src/platform/adapters/ (database, Redis, cache, queue, failure classification) serves the edge and ' +
        'the features; it never imports src/platform/edge/ (the HTTP lifecycle, problems, health, docs).',
      severity: 'error',
      from: { path: '^src/platform/adapters/' },
      to: { path: '^src/platform/edge/' },
    },
    {
      name: 'platform-in-a-layer',
      comment:
        'Every file of src/platform/ belongs to one of its three layers: kernel/, adapters/ or edge/. ' +
        'A folder beside them would have no place in the picture and no rule to hold it.',
      severity: 'error',
      from: {},
      to: { path: '^src/platform/(?!(?:kernel|adapters|edge)/)' },
    },
    {
      name: 'no-circular-between-platform-folders',
      comment:
        'Folders inside src/platform/ must not depend on each other in a cycle (errors -> database -> ' +
        'errors): data flows down the layers and one way between the folders of a layer. Split the file ' +
        'that belongs to the other folder, or move the shared piece down.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/platform/' },
      to: { path: '^src/platform/', circular: true },
    },
    {
      name: 'queue-through-the-adapter',
      comment:
        'A queue handle comes from QueueProducerService.queue(name) and a consumer from ' +
        'QueueWorkersService.register(): only src/platform/adapters/queue/ uses BullMQ at run time ' +
        '(its types may be imported anywhere).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/platform/adapters/queue/' },
      to: { path: '(^|/)node_modules/bullmq/|^bullmq$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'entry-point-not-imported',
      comment:
        'An entry point (src/main.ts, src/worker.ts, src/<name>.command.ts) runs as it loads: importing one ' +
        'starts a process inside another. Import what it runs instead (apiEntrypoint in app.factory.ts, ' +
        'the function a command calls).',
      severity: 'error',
      from: {},
      to: { path: '^src/(?:main|worker)\\.ts$|\\.command\\.ts$' },
    },
    {
      name: 'src-not-to-test',
      comment:
        'Application code must not import test code (test/): it would ship with the build or fail it. ' +
        'Unit specs beside the code (*.spec.ts, never built) may use test/support/.',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular-between-features',
      comment:
        'Feature folders must not depend on each other in a cycle (orders -> payments -> orders). ' +
        'Break it by moving the shared part to platform/ or by depending in one direction only.',
      severity: 'error',
      // Folder scope sees cycles between the folders that hold the modules; a cycle that only
      // closes through a feature's subfolder (orders -> accounts -> orders/dto) is caught at
      // module level by the next rule when the modules themselves form a cycle.
      scope: 'folder',
      from: { path: `^src/${FEATURES}(/|$)` },
      to: { path: `^src/${FEATURES}(/|$)`, pathNot: '^src/$1(/|$)', circular: true },
    },
    {
      name: 'no-circular-between-features-modules',
      comment:
        'A chain of imports that leaves a feature folder and comes back into it is a cycle between ' +
        'features, even when the folders alone do not show it.',
      severity: 'error',
      from: { path: `^src/${FEATURES}/` },
      // $1 is the feature the cycle starts in; the cycle must pass through a different one.
      to: { circular: true, via: { path: `^src/(?!$1/)${FEATURES}/` } },
    },
    {
      name: 'no-dev-deps-in-shipped-code',
      comment:
        'Shipped code may import runtime dependencies only: the image installs with npm ci --omit=dev. ' +
        'Move the package to "dependencies", or keep the import in a *.spec.ts file.',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-undeclared-packages',
      comment: 'Every imported package must be declared in package.json, not reached through a transitive install.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that does not resolve to a file or a package fails at run time.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-circular',
      comment: 'A module-level import cycle makes load order (and decorator metadata) fragile.',
      severity: 'warn',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|coverage)/' },
    // Count `import type` too: a type-only import still couples two folders.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.d.ts', '.js', '.cjs', '.mjs', '.json'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
