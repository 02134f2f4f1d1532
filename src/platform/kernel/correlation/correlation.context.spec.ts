import { setTimeout as delay } from 'node:timers/promises';
import {
  correlationHeaders,
  correlationOf,
  currentCorrelation,
  isRequestId,
  runWithCorrelation,
} from './correlation.context';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('the correlation context', () => {
  it('is current for everything the work runs, across awaits, and gone outside it', async () => {
    const seen = await runWithCorrelation({ requestId: 'r-1', traceparent: TRACEPARENT }, async () => {
      await delay(1);
      return currentCorrelation();
    });
    expect(seen).toEqual({ requestId: 'r-1', traceparent: TRACEPARENT });
    expect(currentCorrelation()).toBeUndefined();
  });

  it('passes X-Request-Id on always and the traceparent unchanged when there is one', () => {
    expect(correlationHeaders({ requestId: 'r-1', traceparent: TRACEPARENT })).toEqual({
      'x-request-id': 'r-1',
      traceparent: TRACEPARENT,
    });
    expect(correlationHeaders({ requestId: 'r-1' })).toEqual({ 'x-request-id': 'r-1' });
    expect(correlationHeaders(undefined)).toEqual({});
  });
});

describe('correlationOf (fields read back from outside the process, such as job data)', () => {
  it('keeps a valid request id and traceparent as they are', () => {
    expect(correlationOf({ requestId: 'A-b_c.9', traceparent: TRACEPARENT })).toEqual({
      requestId: 'A-b_c.9',
      traceparent: TRACEPARENT,
    });
  });

  it.each([TRACEPARENT.toUpperCase(), `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, 'garbage', 42, { a: 1 }])(
    'drops the invalid traceparent %j and keeps the request id',
    (traceparent) => {
      expect(correlationOf({ requestId: 'r-1', traceparent })).toEqual({ requestId: 'r-1' });
    },
  );

  it.each([undefined, '', 'a b', 'x'.repeat(129), 'line\nbreak', 7])(
    'replaces the invalid request id %j (the traceparent stays when valid)',
    (requestId) => {
      expect(correlationOf({ requestId, traceparent: TRACEPARENT }, () => 'fresh')).toEqual({
        requestId: 'fresh',
        traceparent: TRACEPARENT,
      });
    },
  );

  it('makes a fresh UUID when no fallback is given', () => {
    expect(correlationOf({}).requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('holds request ids to the X-Request-Id rule: 1-128 characters of [A-Za-z0-9._-]', () => {
    expect(['a', 'x'.repeat(128), 'scheduler-payments-reconciliation-every'].every(isRequestId)).toBe(true);
    expect(['', 'x'.repeat(129), 'a/b', 'é', undefined].some(isRequestId)).toBe(false);
  });
});
