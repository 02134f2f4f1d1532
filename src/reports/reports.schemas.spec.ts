import { createReportSchema } from './reports.schemas';

describe('createReportSchema', () => {
  it('reads a date as a whole UTC day: `to` ends at its last millisecond', () => {
    expect(createReportSchema.parse({ type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' })).toEqual({
      type: 'sales-summary',
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-01-31T23:59:59.999Z',
    });
  });

  it('normalizes date-times with offsets to UTC instants, so one range written two ways is one report', () => {
    expect(
      createReportSchema.parse({
        type: 'sales-summary',
        from: '2026-01-01T01:00:00+01:00',
        to: '2026-01-01T00:00:00Z',
      }),
    ).toMatchObject({ from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T00:00:00.000Z' });
  });

  it.each([
    [{ from: '2026-02-01', to: '2026-01-31' }, '/to'],
    [{ from: '2026-02-30', to: '2026-03-01' }, '/from'],
    [{ from: '01/02/2026', to: '2026-03-01' }, '/from'],
    [{ from: '2000-01-01', to: '2026-01-01' }, '/to'],
  ])('rejects %j at %s', (range, pointer) => {
    const result = createReportSchema.safeParse({ type: 'sales-summary', ...range });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => `/${issue.path.join('/')}`)).toEqual([pointer]);
  });
});
