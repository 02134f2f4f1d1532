import { jobCorrelationOf } from './queue-workers.service';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('jobCorrelationOf: the correlation a job runs under (F15)', () => {
  it('is the request id and traceparent the producer stored', () => {
    expect(jobCorrelationOf({ data: { requestId: 'req-1', traceparent: TRACEPARENT } })).toEqual({
      requestId: 'req-1',
      traceparent: TRACEPARENT,
    });
  });

  it.each(['garbage', TRACEPARENT.toUpperCase(), `ff${TRACEPARENT.slice(2)}`, `${TRACEPARENT}\r\nx-evil: 1`])(
    'drops the invalid traceparent %j from job data: never logged, never forwarded',
    (traceparent) => {
      expect(jobCorrelationOf({ data: { requestId: 'req-1', traceparent } })).toEqual({ requestId: 'req-1' });
    },
  );

  it("gives a scheduled job without a stored request id the scheduler's id", () => {
    expect(jobCorrelationOf({ data: {}, repeatJobKey: 'payments-reconciliation-every' })).toEqual({
      requestId: 'scheduler-payments-reconciliation-every',
    });
  });

  it('gives any other job without a valid request id a fresh UUID, keeping a valid traceparent', () => {
    const correlation = jobCorrelationOf({ data: { requestId: 'not valid', traceparent: TRACEPARENT } });
    expect(correlation).toEqual({ requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), traceparent: TRACEPARENT });
  });
});
