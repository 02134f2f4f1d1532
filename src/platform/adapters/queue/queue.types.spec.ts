import { classifyFailure } from '../failures/failure.classifier';
import { QueueUnavailableError, jobIdOf } from './queue.types';

describe('jobIdOf', () => {
  it('derives the same id from the same business key', () => {
    expect(jobIdOf('report', '3f0c2a4e-8a55-4d36-9a8e-6f1d0f4b7c21')).toBe(
      'report-3f0c2a4e-8a55-4d36-9a8e-6f1d0f4b7c21',
    );
  });

  it('refuses what BullMQ refuses: a colon (its key separator)', () => {
    expect(() => jobIdOf('report', 'a:b')).toThrow(/invalid job id/);
  });
});

describe('QueueUnavailableError', () => {
  it('classifies itself as a transient Redis outage (HTTP 503), known not to have enqueued when never sent', () => {
    expect(classifyFailure(new QueueUnavailableError('reports', 'not_connected'))).toEqual({
      dependency: 'redis',
      kind: 'unavailable',
      transient: true,
      outcome: 'known',
      code: 'not_connected',
    });
    expect(classifyFailure(new QueueUnavailableError('reports', 'enqueue_timeout'))?.outcome).toBe('unknown');
  });
});
