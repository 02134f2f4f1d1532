import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative as relativePath, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

/** Lints `code` as if it were the file at `path` (which need not exist). */
function eslint(path: string, code = 'export const x = 1;\n') {
  const run = spawnSync(bin('eslint'), ['--stdin', '--stdin-filename', path], {
    cwd: ROOT,
    input: code,
    encoding: 'utf8',
  });
  return { status: run.status, output: run.stdout + run.stderr };
}

/** Runs dependency-cruiser with the project's config on a throwaway tree of files. */
function depcruise(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'ra-depcruise-'));
  try {
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), content);
    }
    for (const file of ['package.json', 'tsconfig.json']) copyFileSync(join(ROOT, file), join(dir, file));
    const run = spawnSync(bin('depcruise'), ['src', '--config', join(ROOT, '.dependency-cruiser.cjs')], {
      cwd: dir,
      encoding: 'utf8',
    });
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A file that imports `name` from `from` and uses it. */
const importing = (name: string, from: string) => `import { ${name} } from '${from}';\nexport const x = ${name};\n`;

/** dependency-cruiser fails on `files`, naming `rule`. */
function expectViolation(files: Record<string, string>, rule: string): string {
  const run = depcruise(files);
  expect(run.status).not.toBe(0);
  expect(run.output).toContain(rule);
  return run.output;
}

function expectNoViolation(files: Record<string, string>): void {
  const run = depcruise(files);
  expect(run.output).toContain('no dependency violations found');
  expect(run.status).toBe(0);
}

describe('conventions are enforced by the lint, not left on paper (style.md rule 8)', () => {
  it.each([
    'src/orders/ordersService.service.ts',
    'src/orders/orders.helper.ts',
    'src/orders/orders_api.module.ts',
    'src/Orders/orders.module.ts',
    'src/platform/kernel/resilience/retry.policies.ts',
    'src/platform/kernel/resilience/retry-policy.ts',
    'src/reports/reports.processor.worker.ts',
  ])('rejects the misnamed file %s', (path) => {
    const result = eslint(path);
    expect(result.status).toBe(1);
    expect(result.output).toContain('local/file-name');
  });

  it.each([
    'src/orders/orders.service.ts',
    'src/orders/orders.service.spec.ts',
    'test/e2e/orders.e2e-spec.ts',
    'test/meta/orders.meta-spec.ts',
    // Roles of the capabilities on the roadmap.
    'src/payments/payments-provider.client.ts',
    'src/platform/kernel/resilience/retry.policy.ts',
    'src/platform/kernel/resilience/payments.breaker.ts',
    'src/platform/kernel/resilience/retry.budget.ts',
    'src/platform/edge/http/request.deadline.ts',
    'src/platform/edge/http/load-shedding.gate.ts',
    'src/platform/edge/http/rate.limiter.ts',
    'src/platform/edge/http/http.metrics.ts',
    'src/platform/adapters/queue/reports.queue.ts',
    'src/reports/reports.processor.ts',
    'src/reports/reports.worker.ts',
    'src/platform/adapters/failures/failure.classifier.ts',
  ])('accepts the well-named file %s', (path) => {
    expect(eslint(path)).toEqual({ status: 0, output: '' });
  });

  it('rejects process.env outside src/config', () => {
    const result = eslint('src/orders/orders.service.ts', 'export const port = process.env.PORT;\n');
    expect(result.status).toBe(1);
    expect(result.output).toContain('never process.env');
  });

  it('rejects a focused test', () => {
    // Assembled, so this file itself contains no focused test for grep-based checks to find.
    const focused = ['it', 'only'].join('.');
    const result = eslint('test/e2e/orders.e2e-spec.ts', `${focused}('x', () => undefined);\n`);
    expect(result.status).toBe(1);
    expect(result.output).toContain('must not be committed: it silently narrows the suite');
  });

  it('fails when src/platform imports a feature, and passes when it does not', () => {
    const feature = { 'src/products/products.module.ts': 'export class ProductsModule {}\n' };
    expectViolation(
      {
        ...feature,
        'src/platform/adapters/probe/probe.service.ts': importing(
          'ProductsModule',
          '../../../products/products.module',
        ),
      },
      'platform-not-to-feature',
    );
    expectNoViolation({
      ...feature,
      'src/products/products.service.ts': importing('ProductsModule', './products.module'),
    });
  });

  it('finds features by exclusion: platform importing a feature folder it has never heard of fails', () => {
    const output = expectViolation(
      {
        'src/jobs/jobs.service.ts': 'export class JobsService {}\n',
        'src/platform/adapters/queue/queue.service.ts': importing('JobsService', '../../../jobs/jobs.service'),
      },
      'platform-not-to-feature',
    );
    expect(output).toContain('src/jobs/jobs.service.ts');
    // platform/ and config/ are not features: platform may use config.
    expectNoViolation({
      'src/config/config.schemas.ts': 'export const port = 3000;\n',
      'src/platform/adapters/queue/queue.service.ts': importing('port', '../../../config/config.schemas'),
    });
  });

  it('fails when platform imports the composition root (which reaches every feature)', () => {
    expectViolation(
      {
        'src/core.module.ts': 'export class CoreModule {}\n',
        'src/platform/adapters/queue/queue.service.ts': importing('CoreModule', '../../../core.module'),
      },
      'platform-not-to-composition-root',
    );
  });

  describe('one logger style: providers inject PinoLogger, the root logger stays below them', () => {
    const rootLogger =
      "import { Inject } from '@nestjs/common';\n" +
      "import type { Logger } from 'pino';\n" +
      "import { ROOT_LOGGER } from '../platform/kernel/logging/logging.module';\n" +
      'export class OrdersService {\n  constructor(@Inject(ROOT_LOGGER) readonly logger: Logger) {}\n}\n';

    it.each(['src/orders/orders.service.ts', 'src/platform/edge/health/health.service.ts'])(
      'fails when %s injects the root logger',
      (path) => {
        const result = eslint(path, rootLogger);
        expect(result.status).toBe(1);
        expect(result.output).toContain('local/logger-style');
      },
    );

    it.each([
      'src/orders/orders.module.ts',
      'src/platform/adapters/redis/redis-connections.service.ts',
      'src/orders/orders.service.spec.ts',
    ])('lets %s use it (a module factory, an adapter, a test)', (path) => {
      expect(eslint(path, rootLogger).output).not.toContain('local/logger-style');
    });
  });

  it('fails when code outside platform/adapters/queue/ makes its own BullMQ queue (one way to a queue handle)', () => {
    const own = "import { Queue } from 'bullmq';\nexport const q = new Queue('reports');\n";
    const output = expectViolation(
      { 'src/reports/reports.service.ts': own, 'src/platform/adapters/queue/queue-producer.service.ts': own },
      'queue-through-the-adapter',
    );
    // The adapter itself uses BullMQ (and the real lint passes on features' `import type` from it).
    expect(output).not.toMatch(/queue-through-the-adapter: src\/platform/);
  });

  describe('the three layers of src/platform/ (kernel <- adapters <- edge) hold', () => {
    /** One file per layer, each importing only the layers below it; a feature on top of all three. */
    const layered = {
      'src/platform/kernel/errors/app.errors.ts': 'export class AppError extends Error {}\n',
      'src/platform/adapters/database/sql.client.ts': importing('AppError', '../../kernel/errors/app.errors'),
      'src/platform/edge/http/problem.factory.ts':
        "import { AppError } from '../../kernel/errors/app.errors';\n" +
        "import { x as sql } from '../../adapters/database/sql.client';\n" +
        'export const x = [AppError, sql];\n',
      'src/orders/orders.service.ts': importing('x', '../platform/edge/http/problem.factory'),
    };

    it('passes when every import runs down the layers', () => {
      expectNoViolation(layered);
    });

    it.each([
      ['adapters', '../../adapters/database/sql.client'],
      ['edge', '../../edge/http/problem.factory'],
    ])('fails when the kernel imports %s', (_layer, from) => {
      expectViolation(
        { ...layered, 'src/platform/kernel/logging/root.logger.ts': importing('x', from) },
        'platform-kernel-not-up',
      );
    });

    it('fails when an adapter imports the edge', () => {
      expectViolation(
        {
          ...layered,
          'src/platform/adapters/queue/queue.health.ts': importing('x', '../../edge/http/problem.factory'),
        },
        'platform-adapters-not-to-edge',
      );
    });

    it('fails when a file of src/platform/ sits outside the three layers', () => {
      expectViolation(
        {
          ...layered,
          'src/platform/probe/probe.service.ts': 'export const probe = 1;\n',
          'src/platform/edge/health/health.controller.ts': importing('probe', '../../probe/probe.service'),
        },
        'platform-in-a-layer',
      );
    });

    it.each([
      ['two adapters', 'src/platform/adapters/redis/redis.client.ts', 'src/platform/adapters/database/sql.client.ts'],
      ['two kernel folders', 'src/platform/kernel/logging/root.logger.ts', 'src/platform/kernel/errors/app.errors.ts'],
    ] as const)('fails on a cycle between %s, though no import runs up a layer', (_what, one, other) => {
      const relative = (from: string, to: string) => relativePath(dirname(from), to).replace(/\.ts$/, '');
      expectViolation(
        {
          ...layered,
          [one]: importing('x', relative(one, other)),
          [other]: `${layered[other]}export { x as y } from '${relative(other, one)}';\n`,
        },
        'no-circular-between-platform-folders',
      );
    });
  });

  describe('entry points in one place: the root of src/, each calling runEntrypoint(), none imported', () => {
    it.each(['src/orders/reconcile.command.ts', 'src/platform/adapters/database/migrate.command.ts'])(
      'rejects the command %s below the root of src/',
      (path) => {
        const result = eslint(path);
        expect(result.status).toBe(1);
        expect(result.output).toContain('is an entry point: every entry point lives at the root of src/');
      },
    );

    it.each([
      ['ends the process', 'export const stop = () => process.exit(1);\n', 'process.exit()'],
      [
        'creates a Nest application',
        "import { NestFactory } from '@nestjs/core';\nexport const boot = () => NestFactory.createApplicationContext(Object);\n",
        'NestFactory',
      ],
      ['runs when executed', 'if (require.main === module) void 0;\n', 'A file that runs when executed (require.main)'],
    ])('rejects a feature or platform file that %s', (_what, code, message) => {
      for (const path of ['src/orders/orders.service.ts', 'src/platform/adapters/database/database.bootstrap.ts']) {
        const result = eslint(path, code);
        expect(result.status).toBe(1);
        expect(result.output).toContain(`${message} belongs in an entry point at the root of src/`);
      }
    });

    it('accepts them at the root of src/ and in the runner', () => {
      expect(eslint('src/migrate.command.ts')).toEqual({ status: 0, output: '' });
      for (const path of ['src/migrate.command.ts', 'src/platform/kernel/lifecycle/entrypoint.bootstrap.ts']) {
        expect(eslint(path, 'export const stop = () => process.exit(1);\n')).toEqual({ status: 0, output: '' });
      }
    });

    it('fails when anything imports an entry point (it would start a process inside another)', () => {
      const seed = { 'src/seed.command.ts': 'export const seeded = 1;\n' };
      const output = expectViolation(
        { ...seed, 'src/start.command.ts': importing('seeded', './seed.command') },
        'entry-point-not-imported',
      );
      expect(output).toContain('src/seed.command.ts');
      expectViolation(
        {
          'src/main.ts': 'export const api = 1;\n',
          'src/orders/orders.service.ts': importing('api', '../main'),
        },
        'entry-point-not-imported',
      );
      expectNoViolation({ ...seed, 'src/main.ts': 'void 0;\n' });
    });
  });

  it('fails on a cycle between two feature folders it has never heard of', () => {
    expectViolation(
      {
        'src/jobs/jobs.service.ts': "import { b } from '../billing/billing.service';\nexport const a = () => b;\n",
        'src/billing/billing.service.ts': "import { a } from '../jobs/jobs.service';\nexport const b = () => a;\n",
      },
      'no-circular-between-features',
    );
  });
});
