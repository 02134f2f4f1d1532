import { LoadSheddingGate } from './load-shedding.gate';

describe('LoadSheddingGate', () => {
  it('admits sheddable requests up to the cap minus the reserve, critical ones up to the cap, exempt ones always', () => {
    const gate = new LoadSheddingGate({ maxInFlight: 4, criticalReserve: 1, maxEventLoopDelayMs: 0 });
    const shed: string[] = [];
    gate.onShed = (reason) => shed.push(reason);
    expect([1, 2, 3].map(() => gate.tryAcquire('sheddable'))).toEqual([undefined, undefined, undefined]);
    expect(gate.tryAcquire('sheddable')).toBe('in_flight');
    expect(gate.tryAcquire('critical')).toBeUndefined();
    expect(gate.tryAcquire('critical')).toBe('in_flight');
    expect(gate.tryAcquire('exempt')).toBeUndefined();
    expect(gate.inFlight).toBe(5);
    expect(gate.shedCounts).toEqual({ in_flight: 2, event_loop_delay: 0 });
    expect(shed).toEqual(['in_flight', 'in_flight']);
    [1, 2, 3].forEach(() => gate.release());
    expect(gate.tryAcquire('sheddable')).toBeUndefined();
  });

  it('never goes below zero in flight and admits everything with the caps off', () => {
    const gate = new LoadSheddingGate({ maxInFlight: 0, criticalReserve: 0, maxEventLoopDelayMs: 0 });
    gate.release();
    expect(gate.inFlight).toBe(0);
    for (let i = 0; i < 1_000; i++) expect(gate.tryAcquire('sheddable')).toBeUndefined();
  });

  it('sheds sheddable (not critical) requests while the event loop lags, and admits again once it recovers', async () => {
    const gate = new LoadSheddingGate({
      maxInFlight: 0,
      criticalReserve: 0,
      maxEventLoopDelayMs: 30,
      sampleIntervalMs: 200,
    }).start();
    try {
      // Block the loop in 80 ms slices until a sample window sees the lag (at most 3 s).
      const deadline = Date.now() + 3_000;
      await new Promise<void>((resolve) => {
        const block = () => {
          const end = Date.now() + 80;
          while (Date.now() < end);
          if (gate.eventLoopDelayMs <= 30 && Date.now() < deadline) setImmediate(block);
          else resolve();
        };
        block();
      });
      expect(gate.eventLoopDelayMs).toBeGreaterThan(30);
      expect(gate.tryAcquire('sheddable')).toBe('event_loop_delay');
      expect(gate.tryAcquire('critical')).toBeUndefined();
      // Idle again: within a couple of windows the gate opens.
      const until = Date.now() + 2_000;
      while (gate.eventLoopDelayMs >= 30 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(gate.eventLoopDelayMs).toBeLessThan(30);
      expect(gate.tryAcquire('sheddable')).toBeUndefined();
    } finally {
      gate.stop();
    }
  });
});
