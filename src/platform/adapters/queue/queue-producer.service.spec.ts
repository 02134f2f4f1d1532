import type { Queue } from 'bullmq';
import type { AppConfig } from '../../../config/config.schemas';
import { runWithCorrelation } from '../../kernel/correlation/correlation.context';
import type { RedisConnectionsService } from '../redis/redis-connections.service';
import { QueueProducerService } from './queue-producer.service';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** The producer with a connection that is up and a queue that records what it is given. */
function producerWithFakeQueue() {
  const added: { name: string; data: unknown; options: unknown }[] = [];
  const queue = {
    name: 'reports',
    add: (name: string, data: unknown, options: unknown) => {
      added.push({ name, data, options });
      return Promise.resolve({ id: 'job-1' });
    },
  } as unknown as Queue;
  const redis = { get: () => ({ status: 'ready' }) } as unknown as RedisConnectionsService;
  const config = { queue: { enqueueTimeoutMs: 1_000 } } as AppConfig;
  return { producer: new QueueProducerService(redis, config), queue, added };
}

describe('QueueProducerService.enqueue stamps the correlation into every job (F15)', () => {
  it("puts the current request's id and traceparent into the job data, the caller's fields kept", async () => {
    const { producer, queue, added } = producerWithFakeQueue();
    await runWithCorrelation({ requestId: 'req-1', traceparent: TRACEPARENT }, () =>
      producer.enqueue(queue, 'sales-summary', { reportId: 'r-1' }, { jobId: 'report-r-1' }),
    );
    expect(added).toEqual([
      {
        name: 'sales-summary',
        data: { reportId: 'r-1', requestId: 'req-1', traceparent: TRACEPARENT },
        options: { jobId: 'report-r-1' },
      },
    ]);
  });

  it('stamps the request id alone when the request sent no traceparent', async () => {
    const { producer, queue, added } = producerWithFakeQueue();
    await runWithCorrelation({ requestId: 'req-2' }, () =>
      producer.enqueue(queue, 'sales-summary', { reportId: 'r-2' }, { jobId: 'report-r-2' }),
    );
    expect(added[0].data).toEqual({ reportId: 'r-2', requestId: 'req-2' });
  });

  it('keeps an explicit request id outside any request (a sweeper re-enqueueing with the stored id)', async () => {
    const { producer, queue, added } = producerWithFakeQueue();
    await producer.enqueue(
      queue,
      'sales-summary',
      { reportId: 'r-3', requestId: 'stored-id' },
      { jobId: 'report-r-3' },
    );
    await producer.enqueue(queue, 'sales-summary', { reportId: 'r-4' }, { jobId: 'report-r-4' });
    expect(added.map((job) => job.data)).toEqual([{ reportId: 'r-3', requestId: 'stored-id' }, { reportId: 'r-4' }]);
  });

  it('never mixes the current traceparent into a job whose explicit request id names other work', async () => {
    const { producer, queue, added } = producerWithFakeQueue();
    await runWithCorrelation({ requestId: 'req-5', traceparent: TRACEPARENT }, async () => {
      await producer.enqueue(queue, 'sales-summary', { reportId: 'r-5', requestId: 'other' }, { jobId: 'report-r-5' });
      await producer.enqueue(queue, 'sales-summary', { reportId: 'r-6', requestId: 'req-5' }, { jobId: 'report-r-6' });
    });
    expect(added.map((job) => job.data)).toEqual([
      { reportId: 'r-5', requestId: 'other' },
      { reportId: 'r-6', requestId: 'req-5', traceparent: TRACEPARENT },
    ]);
  });
});
