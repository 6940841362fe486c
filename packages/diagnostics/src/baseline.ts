import type { RunReport } from './report.js';

/** One compared measurement of {@link compareToBaseline}. */
export interface BaselineMetric {
  name: 'delay p99' | 'blocked time' | 'CPU per request';
  unit: string;
  baseline: number;
  current: number;
  /** current / baseline - 1 (Infinity when the baseline was 0 and the current is not). */
  change: number;
  regressed: boolean;
}

/** The outcome of {@link compareToBaseline}. */
export interface BaselineComparison {
  /** The allowed relative increase (0.2 = 20%). */
  threshold: number;
  metrics: BaselineMetric[];
  regressed: boolean;
}

/**
 * Small absolute differences are noise, whatever the ratio: a p99 from 0.4 to 0.9 ms or blocked
 * time from 0 to 30 ms per minute is not a regression worth failing CI for.
 */
const FLOOR = { 'delay p99': 5, 'blocked time': 10, 'CPU per request': 0.02 } as const;

const cpuMs = (r: RunReport) => {
  const c = r.sinceStart?.process.cpu;
  return c ? c.user + c.system : 0;
};

/**
 * Compare a run with an earlier one (both `offthread doctor --json` reports): delay p99, blocked
 * time per second of run, and CPU time per request (with `--load` in both runs; else CPU share).
 * A metric regressed when it grew by more than `threshold` and by more than a small floor.
 */
export function compareToBaseline(
  current: RunReport,
  baseline: RunReport,
  threshold = 0.2,
): BaselineComparison {
  const metrics: BaselineMetric[] = [];
  const add = (name: BaselineMetric['name'], unit: string, b: number, c: number) => {
    const change = b > 0 ? c / b - 1 : c > 0 ? Number.POSITIVE_INFINITY : 0;
    metrics.push({
      name,
      unit,
      baseline: Math.round(b * 1000) / 1000,
      current: Math.round(c * 1000) / 1000,
      change: Number.isFinite(change) ? Math.round(change * 1000) / 1000 : change,
      regressed: change > threshold && c - b > FLOOR[name],
    });
  };
  const cs = current.sinceStart;
  const bs = baseline.sinceStart;
  if (cs && bs) {
    add('delay p99', 'ms', bs.eventLoop.delay.p99, cs.eventLoop.delay.p99);
    const perSecond = (r: RunReport, blocked: number) => blocked / Math.max(1, r.duration / 1000);
    add(
      'blocked time',
      'ms/s',
      perSecond(baseline, bs.eventLoop.blockedTime),
      perSecond(current, cs.eventLoop.blockedTime),
    );
    const cl = current.load?.requests.total;
    const bl = baseline.load?.requests.total;
    if (cl && bl) add('CPU per request', 'ms', cpuMs(baseline) / bl, cpuMs(current) / cl);
  }
  return { threshold, metrics, regressed: metrics.some((m) => m.regressed) };
}

/** One line per metric, for the CLI. */
export function formatComparison(c: BaselineComparison): string {
  const lines = [`Compared with the baseline (fail above +${Math.round(c.threshold * 100)}%)`];
  for (const m of c.metrics) {
    const pct = Number.isFinite(m.change)
      ? `${m.change >= 0 ? '+' : ''}${Math.round(m.change * 100)}%`
      : 'new';
    lines.push(
      `  ${m.regressed ? '✖' : '✔'} ${m.name.padEnd(15)} ${m.baseline} → ${m.current} ${m.unit} (${pct})`,
    );
  }
  return `${lines.join('\n')}\n`;
}
