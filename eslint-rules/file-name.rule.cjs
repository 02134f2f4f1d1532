'use strict';
/**
 * local/file-name: every .ts file under src/ and test/ is kebab-case `<name>.<role>.ts`,
 * with the role from one short list, so a newcomer can tell what a file holds from its
 * name and names cannot drift (`http-controller` next to `http.controller`).
 *
 * Allowed shapes (folders on the way must be kebab-case too):
 *   orders.service.ts                 <name>.<role>.ts
 *   orders.service.spec.ts            a unit test beside the file it tests: <name>.<role>.spec.ts
 *   idempotency.e2e-spec.ts           <name>.<test-role>.ts (e2e-spec, fault-spec, meta-spec, soak-spec)
 *   1767225600000-create-orders.migration.ts
 *                                     a migration: <13-digit ms timestamp>-<kebab-name>.migration.ts
 * Exceptions: the entry points src/main.ts and src/worker.ts.
 * Entry points live at the root of src/: a `*.command.ts` deeper in src/ is refused.
 */
const path = require('node:path');

/** The project root: this file lives in <root>/eslint-rules/. */
const ROOT = path.resolve(__dirname, '..');

// The roles a file name may end with (style.md names the core ones; the rest cover tests, tooling,
// wiring, and the capabilities on the roadmap: resilience, queues and workers, metrics). Each is a
// closed word: adding one here is a reviewed change, and the pattern around it stays as strict.
const ROLES = [
  'module controller service repository client processor entity schemas errors filter guard interceptor',
  'middleware health types catalog factory hooks handler pipe decorator bootstrap command migration migrations',
  'fixtures support constants spec e2e-spec fault-spec meta-spec fleet-spec setup teardown server logger indicator',
  'classifier policy registry worker queue scheduler metrics breaker limiter budget deadline gate context',
  // The invariant soak (test/soak): what runs against the system, what it checks, what it runs on.
  'soak-spec workload invariants topology',
]
  .join(' ')
  .split(' ');
const TEST_ROLES = ['spec', 'e2e-spec', 'fault-spec', 'meta-spec', 'fleet-spec', 'soak-spec'];
const ENTRY_POINTS = new Set(['src/main.ts', 'src/worker.ts']);
/** A command not yet at the root: moves to src/fake-payments.command.ts (issue 18, point 5). */
const COMMANDS_NOT_YET_AT_ROOT = new Set(['src/payments/fake-provider/fake-provider.command.ts']);

const KEBAB = '[a-z0-9]+(?:-[a-z0-9]+)*';
const KEBAB_SEGMENT = new RegExp(`^${KEBAB}$`);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
const roleGroup = ROLES.map(escape).join('|');
const testRoleGroup = TEST_ROLES.map(escape).join('|');
// <name>.<role>.ts, or <name>.<role>.<test-role>.ts for a test of that file.
const FILE_NAME = new RegExp(
  `^(?<name>${KEBAB})\\.(?:(?<tested>${roleGroup})\\.(?=(?:${testRoleGroup})\\.ts$))?(?<role>${roleGroup})\\.ts$`,
);
const MIGRATION_NAME = /^\d{13}-[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** @type {import('eslint').Rule.RuleModule} */
module.exports = {
  meta: {
    type: 'suggestion',
    docs: { description: 'Enforce kebab-case `<name>.<role>.ts` file names under src/ and test/' },
    schema: [],
    messages: {
      folder: "Folder '{{folder}}' in '{{file}}' is not kebab-case.",
      shape:
        "File name '{{base}}' must be kebab-case '<name>.<role>.ts' (a test may be '<name>.<role>.spec.ts'), " +
        'with <role> one of: {{roles}}.',
      migration:
        "Migration '{{base}}' must be named '<13-digit ms timestamp>-<kebab-name>.migration.ts', " +
        "e.g. '1767225600000-create-orders.migration.ts'.",
      entryPoint:
        "'{{file}}' is an entry point: every entry point lives at the root of src/ (src/main.ts, src/worker.ts, " +
        'src/<name>.command.ts calling runEntrypoint()); put the work it runs beside the code it uses.',
    },
  },
  create(context) {
    const file = path
      .relative(ROOT, context.physicalFilename ?? context.filename)
      .split(path.sep)
      .join('/');
    if (!/^(src|test)\//.test(file) || !file.endsWith('.ts') || ENTRY_POINTS.has(file)) return {};

    return {
      Program(node) {
        const segments = file.split('/');
        const base = segments.pop();
        const loc = { line: 1, column: 0 };
        const badFolder = segments.slice(1).find((folder) => !KEBAB_SEGMENT.test(folder));
        if (badFolder) {
          context.report({ node, loc, messageId: 'folder', data: { folder: badFolder, file } });
          return;
        }
        const match = FILE_NAME.exec(base);
        if (!match) {
          context.report({ node, loc, messageId: 'shape', data: { base, roles: ROLES.join(', ') } });
          return;
        }
        const underSrc = segments[0] === 'src' && segments.length > 1;
        if (match.groups.role === 'command' && underSrc && !COMMANDS_NOT_YET_AT_ROOT.has(file)) {
          context.report({ node, loc, messageId: 'entryPoint', data: { file } });
          return;
        }
        if (match.groups.role === 'migration' && !MIGRATION_NAME.test(match.groups.name)) {
          context.report({ node, loc, messageId: 'migration', data: { base } });
        }
      },
    };
  },
};
