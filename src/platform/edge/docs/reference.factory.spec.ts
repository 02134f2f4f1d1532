import { z } from 'zod';
import { renderConfigurationReference, renderEndpointsReference, renderMetricsReference } from './reference.factory';

describe('the generated reference pages', () => {
  it('gives each configuration variable its default, range and meaning from the schema', () => {
    const page = renderConfigurationReference(
      z.object({
        PORT: z.coerce.number().int().min(1).max(65_535).default(3000).meta({ description: 'HTTP port' }),
        LOG_LEVEL: z.enum(['info', 'debug']).default('info').meta({ description: 'pino level' }),
        SECRET: z.string().optional().meta({ description: 'signing secret', defaultText: 'a development-only value' }),
        ORIGINS: z.string().default('').meta({ description: 'allowed origins' }),
      }),
    );
    expect(page).toContain('| `PORT` | `3000` | 1 – 65,535 | HTTP port |');
    expect(page).toContain('| `LOG_LEVEL` | `info` | `info`, `debug` | pino level |');
    expect(page).toContain('| `SECRET` | a development-only value | text | signing secret |');
    expect(page).toContain('| `ORIGINS` | empty | text | allowed origins |');
  });

  it('refuses a configuration variable without a description', () => {
    expect(() => renderConfigurationReference(z.object({ PORT: z.coerce.number().default(3000) }))).toThrow(
      'config variable PORT has no description',
    );
  });

  it('lists every metric of the catalog once', () => {
    const rows = renderMetricsReference()
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    const names = rows.map((row) => row.split('`')[1]);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('resilience_retries_total');
  });

  it('says once what every operation answers, and per operation only its own problem codes', () => {
    const operation = (codes: string[], extra: Record<string, unknown> = {}) => ({
      summary: 'S',
      responses: { '200': {}, '500': {} },
      'x-problem-codes': codes,
      ...extra,
    });
    const page = renderEndpointsReference({
      paths: {
        '/a': { get: operation(['INTERNAL_ERROR']) },
        '/b/{id}': { post: operation(['INTERNAL_ERROR', 'METHOD_NOT_ALLOWED'], { security: [{ bearer: [] }] }) },
      },
    });
    expect(page).toContain('Every operation can also answer 500 `INTERNAL_ERROR`.');
    expect(page).toContain('| `GET /a` | S | — | 200 | — |');
    expect(page).toContain('| `POST /b/{id}` | S | bearer | 200 | 405 `METHOD_NOT_ALLOWED` |');
  });
});
