// @ts-check
// Lint for src/ and test/ (TypeScript): typescript-eslint's recommended set (syntax only, not
// type-checked, so it stays fast) plus the project's conventions, each enforced here rather
// than left on paper: file names, `process.env` only in src/config/, no console in src/, one logger style,
// no focused or skipped tests. Import boundaries live in .dependency-cruiser.cjs.
import { createRequire } from 'node:module';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const require = createRequire(import.meta.url);
const local = {
  rules: {
    'file-name': require('./eslint-rules/file-name.rule.cjs'),
    'logger-style': require('./eslint-rules/logger-style.rule.cjs'),
  },
};

const TS = ['src/**/*.ts', 'test/**/*.ts'];

// The options of one rule are replaced, not merged, by a later config object, so each
// restricted-syntax list is built once here and composed per file group below.
const processEnvOutsideConfig = {
  property: [
    {
      object: 'process',
      property: 'env',
      message: 'Read configuration through src/config/ (AppConfig), never process.env.',
    },
  ],
  // no-restricted-properties already covers process.env, process['env'] and `const { env } = process`.
  syntax: [
    {
      selector: "MemberExpression[object.type='MemberExpression'][object.property.name='process'][property.name='env']",
      message: 'Read configuration through src/config/ (AppConfig), never process.env.',
    },
  ],
  imports: [
    { name: 'process', importNames: ['env'], message: 'Read configuration through src/config/ (AppConfig).' },
    { name: 'node:process', importNames: ['env'], message: 'Read configuration through src/config/ (AppConfig).' },
  ],
};

const focusedOrSkippedTests = {
  property: ['describe', 'it', 'test'].flatMap((object) =>
    ['only', 'skip'].map((property) => ({
      object,
      property,
      message: `${object}.${property}() must not be committed: it silently narrows the suite.`,
    })),
  ),
  syntax: [
    {
      selector: "CallExpression[callee.type='Identifier'][callee.name=/^(fdescribe|fit|xdescribe|xit|xtest)$/]",
      message: 'Focused or skipped tests (fdescribe/fit/xdescribe/xit/xtest) must not be committed.',
    },
  ],
};

// Entry points in one place: a file that ends the process, creates a Nest application or runs when
// executed is an entry point (a file at the root of src/: main.ts, worker.ts, <name>.command.ts, and
// the factories they compose) or the runner they all call (src/platform/kernel/lifecycle/). The
// file-name rule keeps `*.command.ts` at the root; dependency-cruiser keeps every entry point unimported.
const ENTRY_POINT_PLACE =
  'belongs in an entry point at the root of src/ (main.ts, worker.ts, <name>.command.ts calling ' +
  'runEntrypoint()) or in the runner (src/platform/kernel/lifecycle/), not in a feature or platform/.';
const entryPointsAtRoot = {
  property: [],
  syntax: [
    {
      selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']",
      message: `process.exit() ${ENTRY_POINT_PLACE}`,
    },
    { selector: "MemberExpression[object.name='NestFactory']", message: `NestFactory ${ENTRY_POINT_PLACE}` },
    {
      selector: "MemberExpression[object.name='require'][property.name='main']",
      message: `A file that runs when executed (require.main) ${ENTRY_POINT_PLACE}`,
    },
  ],
};
/** Where entry-point code may be; the fake provider's command moves to src/fake-payments.command.ts (issue 18). */
const ENTRY_POINT_FILES = [
  'src/*.ts',
  'src/platform/kernel/lifecycle/**',
  'src/payments/fake-provider/fake-provider.command.ts',
];

const restrict = (...groups) => ({
  'no-restricted-properties': ['error', ...groups.flatMap((g) => g.property)],
  'no-restricted-syntax': ['error', ...groups.flatMap((g) => g.syntax)],
});

export default defineConfig([
  globalIgnores(['dist/', 'coverage/', 'node_modules/', 'bench/results/']),

  {
    name: 'project/typescript',
    files: TS,
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
    plugins: { local },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'local/file-name': 'error',
      'local/logger-style': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // `interface ProblemCodes extends Record<keyof typeof X, true> {}` is how an owner adds its
      // problem codes to the registry's type (module augmentation); other empty interfaces stay banned.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
      'no-restricted-imports': ['error', { paths: processEnvOutsideConfig.imports }],
      ...restrict(processEnvOutsideConfig, focusedOrSkippedTests),
    },
  },

  {
    // Logs go through pino; entry points report a failed boot with process.stderr.write.
    name: 'project/no-console-in-src',
    files: ['src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },

  {
    name: 'project/entry-points-at-src-root',
    files: ['src/**/*.ts'],
    ignores: ENTRY_POINT_FILES,
    rules: restrict(processEnvOutsideConfig, focusedOrSkippedTests, entryPointsAtRoot),
  },

  {
    // The one place that knows process.env exists.
    name: 'project/config-reads-env',
    files: ['src/config/**/*.ts'],
    rules: { 'no-restricted-imports': 'off', ...restrict(focusedOrSkippedTests, entryPointsAtRoot) },
  },

  {
    name: 'project/tests',
    files: ['test/**/*.ts', 'src/**/*.spec.ts'],
    languageOptions: { globals: { ...globals.jest } },
    // Response bodies of arbitrary endpoints are typed `any` in tests on purpose.
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },

  {
    // The test harness owns the test process's environment (where Postgres and Redis are,
    // the template database handed from global setup to the test files). The
    // "only src/config/ reads process.env" rule is for the app; specs still go through here.
    name: 'project/test-harness-reads-env',
    files: ['test/support/**/*.ts'],
    rules: { 'no-restricted-imports': 'off', ...restrict(focusedOrSkippedTests) },
  },

  {
    // The typed client and its page (client/): a package of its own that runs in browsers and Node, so
    // browser globals, no Node-only import, and no file-name roles (a package's entry is index.ts).
    name: 'project/client',
    files: ['client/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: { ...globals.browser } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*'], message: 'client/ runs in browsers too.' }] },
      ],
      ...restrict(focusedOrSkippedTests),
    },
  },
  {
    name: 'project/client-tests',
    files: ['client/**/*.spec.ts'],
    languageOptions: { globals: { ...globals.jest } },
  },

  {
    // The tooling's own JavaScript (this file, the local rules, jest and dependency-cruiser configs,
    // scripts/ such as the rollout gate, and the test helpers that must be ES modules).
    name: 'project/tooling',
    files: ['*.{js,cjs,mjs}', 'eslint-rules/**/*.cjs', 'scripts/**/*.mjs', 'test/**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['**/*.{js,cjs}'],
    languageOptions: { sourceType: 'commonjs' },
  },
]);
