import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

/** How a route is treated under overload. */
export type LoadPriority =
  /** Health probes and /metrics: counted, never refused (an overloaded instance must still say so). */
  | 'exempt'
  /** Requests that matter most (login, payments): they may use the reserve the others cannot. */
  | 'critical'
  /** Everything else: refused first. */
  | 'sheddable';

/** Why a request was refused; the label of `http_server_requests_shed_total{reason}`. */
export type ShedReason = 'in_flight' | 'event_loop_delay';

export interface LoadSheddingOptions {
  /** Requests in flight at most (all priorities together); 0 = no cap. */
  maxInFlight: number;
  /** Slots of `maxInFlight` only critical requests may take. */
  criticalReserve: number;
  /** Shed sheddable requests while the event loop's mean delay over the last window is above this; 0 = off. */
  maxEventLoopDelayMs: number;
  /** How often the event-loop delay is sampled. */
  sampleIntervalMs?: number;
}

/**
 * Admission control for one process: a counter check per request, nothing else on the hot path.
 * - In-flight cap: sheddable requests are admitted while fewer than `maxInFlight - criticalReserve`
 *   are in flight, critical ones up to `maxInFlight`; exempt ones always (and they count).
 * - Event-loop delay: `monitorEventLoopDelay` (libuv timer, no per-request cost) is read every
 *   `sampleIntervalMs` (500 ms); while the last window's mean delay is over the cap, sheddable
 *   requests are refused (critical ones still pass the in-flight check: the loop is slow, not
 *   stopped). The mean, not a high percentile: one garbage-collection pause must not shed a window.
 * Refusals are counted per reason; `onShed` is the hook the metrics module wires to
 * `http_server_requests_shed_total{reason}`.
 */
export class LoadSheddingGate {
  private inFlightCount = 0;
  private loopDelayed = false;
  private lastDelayMs = 0;
  private histogram?: ELDHistogram;
  private timer?: NodeJS.Timeout;
  private readonly counts: Record<ShedReason, number> = { in_flight: 0, event_loop_delay: 0 };
  /** Set by whoever exports metrics: called once per refused request. */
  onShed?: (reason: ShedReason) => void;

  constructor(private readonly options: LoadSheddingOptions) {}

  /** Starts sampling the event-loop delay (a no-op when that cap is off); call it once the process serves, not during boot. */
  start(): this {
    if (this.options.maxEventLoopDelayMs > 0 && !this.histogram) {
      this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      this.histogram.enable();
      this.timer = setInterval(() => this.sample(), this.options.sampleIntervalMs ?? 500);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram?.disable();
    this.histogram = undefined;
  }

  /** Requests admitted and not yet finished (every priority). */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** The event loop's mean delay over the last sample window, in ms. */
  get eventLoopDelayMs(): number {
    return this.lastDelayMs;
  }

  /** Refusals since start, per reason. */
  get shedCounts(): Readonly<Record<ShedReason, number>> {
    return this.counts;
  }

  /**
   * Admits the request (and counts it in flight: call {@link release} exactly once when it
   * ends), or returns why it is refused (and counts nothing in flight).
   */
  tryAcquire(priority: LoadPriority): ShedReason | undefined {
    if (priority !== 'exempt') {
      const { maxInFlight, criticalReserve } = this.options;
      if (maxInFlight > 0) {
        const limit = priority === 'critical' ? maxInFlight : maxInFlight - criticalReserve;
        if (this.inFlightCount >= limit) return this.refuse('in_flight');
      }
      if (this.loopDelayed && priority === 'sheddable') return this.refuse('event_loop_delay');
    }
    this.inFlightCount++;
    return undefined;
  }

  release(): void {
    if (this.inFlightCount > 0) this.inFlightCount--;
  }

  private refuse(reason: ShedReason): ShedReason {
    this.counts[reason]++;
    this.onShed?.(reason);
    return reason;
  }

  private sample(): void {
    const histogram = this.histogram;
    if (!histogram) return;
    // Nanoseconds; the histogram has no samples yet in the first window after enable().
    // Each sample is the interval between two timer ticks, so an idle loop reads RESOLUTION_MS: the lag is the rest.
    this.lastDelayMs = histogram.count > 0 ? Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS) : 0;
    histogram.reset();
    this.loopDelayed = this.lastDelayMs > this.options.maxEventLoopDelayMs;
  }
}
