import type { WaitStats } from './types.js';

/** Round to 3 decimals so reports stay readable. */
export const round = (n: number): number => Math.round(n * 1000) / 1000;

/** A bounded reservoir of values with nearest-rank percentiles. */
export class Reservoir {
  private values: number[] = [];
  private seen = 0;
  private maxValue = 0;
  constructor(private readonly capacity = 4096) {}

  add(value: number): void {
    this.seen++;
    if (value > this.maxValue) this.maxValue = value;
    if (this.values.length < this.capacity) this.values.push(value);
    else {
      // Reservoir sampling keeps an unbiased subset once full.
      const i = Math.floor(Math.random() * this.seen);
      if (i < this.capacity) this.values[i] = value;
    }
  }

  merge(other: Reservoir): void {
    for (const v of other.values) this.add(v);
    this.seen += other.seen - other.values.length;
    if (other.maxValue > this.maxValue) this.maxValue = other.maxValue;
  }

  reset(): void {
    this.values = [];
    this.seen = 0;
    this.maxValue = 0;
  }

  stats(): WaitStats {
    if (this.values.length === 0) return { p50: 0, p99: 0, max: 0, count: 0 };
    const sorted = [...this.values].sort((a, b) => a - b);
    const at = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
    return {
      p50: round(at(0.5)),
      p99: round(at(0.99)),
      max: round(this.maxValue),
      count: this.seen,
    };
  }
}
