import { summarize } from './sales-summary.service';
import { failureReasonOf } from './reports.errors';

describe('sales summary', () => {
  it('adds up the windows: orders of any status counted, revenue from paid orders per currency', () => {
    const params = { from: '2026-01-01T00:00:00.000Z', to: '2026-03-31T23:59:59.999Z' };
    const rows = [
      { status: 'paid', currency: 'EUR', orders: '2', totalCents: '3000' },
      { status: 'payment_failed', currency: 'EUR', orders: '1', totalCents: '999' },
      { status: 'paid', currency: 'USD', orders: '1', totalCents: '700' },
      { status: 'paid', currency: 'EUR', orders: '3', totalCents: '9000000000000' }, // a later window; bigint sums
    ];
    expect(summarize(params, rows)).toEqual({
      ...params,
      orders: 7,
      byStatus: { paid: 6, payment_failed: 1 },
      revenue: [
        { currency: 'EUR', paidOrders: 5, totalCents: 9_000_000_003_000 },
        { currency: 'USD', paidOrders: 1, totalCents: 700 },
      ],
    });
  });
});

describe('failureReasonOf', () => {
  it('gives a safe reason from the classification, never the error text', () => {
    expect(failureReasonOf(Object.assign(new Error('canceling statement'), { code: '57014', severity: 'ERROR' }))).toBe(
      'timeout',
    );
    expect(failureReasonOf(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('unavailable');
    expect(failureReasonOf(new TypeError('cannot read properties of undefined'))).toBe('internal');
  });
});
