/** Percentiles in milliseconds over a window of recent tasks. */
export interface Percentiles {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Keeps the last `capacity` samples in a typed array: recording is one store, and percentiles are
 * computed only when someone asks (stats() is rare, task completion is hot).
 */
export class SampleWindow {
  private samples: Float64Array;
  private next = 0;
  private count = 0;

  constructor(capacity = 10_000) {
    this.samples = new Float64Array(capacity);
  }

  record(value: number): void {
    this.samples[this.next] = value;
    this.next = this.next + 1 === this.samples.length ? 0 : this.next + 1;
    if (this.count < this.samples.length) this.count++;
  }

  percentiles(): Percentiles {
    if (this.count === 0) return { mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.samples.slice(0, this.count).sort();
    let sum = 0;
    for (const value of sorted) sum += value;
    const at = (q: number) =>
      round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number);
    return {
      mean: round(sum / sorted.length),
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: round(sorted[sorted.length - 1] as number),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** What `pool.stats()` returns. Times are in milliseconds. */
export interface PoolStats {
  /** The pool's name. */
  name: string;
  /** Threads alive (starting, busy or idle). */
  threads: number;
  /** Threads running at least one task. */
  busy: number;
  /** Threads with nothing to do. */
  idle: number;
  /** Tasks accepted but not started: in the pool's queue or sent ahead to a busy thread. */
  queued: number;
  /** Tasks running right now. */
  running: number;
  /** Tasks that resolved. */
  completed: number;
  /** Tasks that rejected, whatever the reason. */
  failed: number;
  /** Time in the task function, over the last 10 000 tasks. */
  runTime: Percentiles;
  /** Time from `run()` until the task started, over the last 10 000 tasks. */
  waitTime: Percentiles;
  /** Share of the threads' time spent running tasks (event-loop utilization) over the last 1-2 seconds (0..1). */
  utilization: number;
  /** Threads replaced after a crash, timeout or forced abort, since the pool started. */
  threadsReplaced: number;
  /**
   * Threads recycled because they reached `maxTasksPerThread` or `maxThreadHeapMb` (see the
   * `threadRecycled` event). Optional for other {@link TaskPool} implementations; a local Pool
   * always sets it.
   */
  threadsRecycled?: number;
  /**
   * Thread starts that failed in a row (0 once a thread starts). Above 0 the pool is failing to
   * start threads: tasks waiting for one reject with ERR_OFFTHREAD_WORKER_INIT, and starts are
   * retried with a growing delay (see the `threadStartFailed` event). Optional for other
   * {@link TaskPool} implementations; a local Pool always sets it.
   */
  threadStartFailures?: number;
  /** The message of the last failed thread start, while `threadStartFailures` > 0. */
  lastThreadStartError?: string | undefined;
}
