import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AppError } from './platform/kernel/errors/app.errors';
import type { ErrorCode } from './platform/kernel/errors/problem-type.registry';
import { PROBLEM_CATALOG } from './problem-types.catalog';

/** Every `*.errors.ts` of src/ (not tests), as paths relative to src/. */
const errorsFiles = (): string[] =>
  readdirSync(__dirname, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.errors.ts'))
    .map((file) => relative(__dirname, join(__dirname, file)));

describe('problem types are registered explicitly, from one list (PROBLEM_CATALOG)', () => {
  it('lists every owner: each *_PROBLEM_TYPES that an errors file declares is in the catalog', async () => {
    const declared: { name: string; listed: boolean }[] = [];
    for (const file of errorsFiles()) {
      for (const [name, types] of Object.entries((await import(`./${file}`)) as Record<string, unknown>)) {
        if (name.endsWith('_PROBLEM_TYPES'))
          declared.push({ name: `${file}: ${name}`, listed: PROBLEM_CATALOG.includes(types as never) });
      }
    }
    expect(declared.length).toBeGreaterThanOrEqual(2);
    expect(declared.filter((owner) => !owner.listed).map((owner) => owner.name)).toEqual([]);
  });

  it('registers nothing by importing an errors file', async () => {
    await jest.isolateModulesAsync(async () => {
      const registry = await import('./platform/kernel/errors/problem-type.registry.js');
      for (const file of errorsFiles()) await import(`./${file}`);
      expect(registry.problemCodes()).toEqual([]);
    });
  });

  it('fails loudly on a code nobody listed: the error cannot even be built', () => {
    expect(() => new AppError('WIDGET_NOT_FOUND' as ErrorCode)).toThrow(
      /problem code WIDGET_NOT_FOUND is not registered; .* PROBLEM_CATALOG/,
    );
  });
});
