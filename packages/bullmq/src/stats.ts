import type { Percentiles } from '@offthread/core';

/** The last `capacity` durations; percentiles are computed only when stats() asks. */
export class SampleWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private count = 0;

  constructor(capacity = 10_000) {
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
  }

  percentiles(): Percentiles {
    if (this.count === 0) return { mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.samples.slice(0, this.count).sort();
    const round = (ms: number) => Math.round(ms * 1000) / 1000;
    // Every index asked for is within `sorted` (count > 0 here), so the `?? 0` never applies.
    const value = (index: number) => round(sorted[index] ?? 0);
    const at = (q: number) => value(Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1));
    return {
      mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: value(sorted.length - 1),
    };
  }
}
