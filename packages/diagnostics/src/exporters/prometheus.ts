import type { Monitor } from '../monitor.js';
import type { Snapshot } from '../types.js';
import { loadPeer } from './load-peer.js';

type PromClient = typeof import('prom-client');
type Registry = import('prom-client').Registry;

/** Options of {@link createPrometheusCollector}. Every field is optional. */
export interface PrometheusCollectorOptions {
  /** Registry to register the metrics in. Defaults to prom-client's global `register`. */
  registry?: Registry;
  /** Prefix for every metric name. Defaults to `''`. */
  prefix?: string;
  /** The prom-client module to use (avoids a second copy). Defaults to `require('prom-client')`. */
  client?: PromClient;
}

/** What {@link createPrometheusCollector} returns. */
export interface PrometheusCollector {
  /** Names of the metrics that were registered (a name already in the registry is skipped). */
  readonly metricNames: string[];
  /** Remove the metrics from the registry. */
  unregister(): void;
}

const TYPES = ['fs', 'dns', 'crypto', 'zlib', 'other'] as const;

/**
 * Expose a monitor's numbers as prom-client metrics, read at scrape time from
 * `monitor.snapshot()` (the last sample interval). Every name starts with `offthread_`, so the
 * collector and `collectDefaultMetrics()` (which owns `nodejs_eventloop_lag_*`) work together
 * in either order. Blocks and blocked time are counters; the rest are gauges.
 *
 * @param monitor A started {@link Monitor}.
 * @param options See {@link PrometheusCollectorOptions}.
 * @throws {DiagnosticsError} ERR_OFFTHREAD_DIAG_PEER_MISSING when prom-client is not installed.
 */
export function createPrometheusCollector(
  monitor: Monitor,
  options: PrometheusCollectorOptions = {},
): PrometheusCollector {
  const client = options.client ?? loadPeer<PromClient>('prom-client', 'createPrometheusCollector');
  const registry = options.registry ?? client.register;
  const prefix = options.prefix ?? '';
  const names: string[] = [];
  let cached: { at: number; snap: Snapshot | null } = { at: 0, snap: null };
  // One snapshot per scrape, shared by every gauge's collect().
  const snap = (): Snapshot | null => {
    if (Date.now() - cached.at > 100) {
      let s: Snapshot | null = null;
      try {
        s = monitor.snapshot();
      } catch {}
      cached = { at: Date.now(), snap: s };
    }
    return cached.snap;
  };
  const gauge = (
    name: string,
    help: string,
    read: (s: Snapshot) => number | undefined,
    labels?: { labelNames: string[]; read: (s: Snapshot) => [Record<string, string>, number][] },
  ) => {
    const full = prefix + name;
    if (registry.getSingleMetric(full)) return;
    new client.Gauge({
      name: full,
      help,
      registers: [registry],
      labelNames: labels?.labelNames ?? [],
      collect() {
        const s = snap();
        if (!s) return;
        if (labels) {
          for (const [l, v] of labels.read(s)) this.set(l, v);
        } else {
          const v = read(s);
          if (v !== undefined) this.set(v);
        }
      },
    });
    names.push(full);
  };
  /** A counter that follows a monotonic since-start total. */
  const counter = (name: string, help: string, read: (s: Snapshot) => number) => {
    const full = prefix + name;
    if (registry.getSingleMetric(full)) return;
    let seen = 0;
    new client.Counter({
      name: full,
      help,
      registers: [registry],
      collect() {
        const s = snap();
        if (!s) return;
        const v = read(s);
        if (v > seen) this.inc(v - seen);
        seen = Math.max(seen, v);
      },
    });
    names.push(full);
  };
  const last = (s: Snapshot) => s.interval ?? s.sinceStart;
  const sec = (ms: number) => ms / 1000;
  for (const q of ['min', 'mean', 'p50', 'p90', 'p99', 'max'] as const) {
    gauge(
      `offthread_eventloop_delay_${q}_seconds`,
      `Event-loop delay ${q} over the last interval, in seconds.`,
      (s) => sec(last(s).eventLoop.delay[q]),
    );
  }
  gauge(
    'offthread_eventloop_utilization_ratio',
    'Event-loop utilization (0..1) over the last interval.',
    (s) => last(s).eventLoop.utilization,
  );
  counter(
    'offthread_eventloop_blocks_total',
    'Event-loop blocks longer than blockThreshold since start.',
    (s) => s.sinceStart.eventLoop.blockCount,
  );
  counter(
    'offthread_eventloop_blocked_seconds_total',
    'Time spent in event-loop blocks since start, seconds.',
    (s) => sec(s.sinceStart.eventLoop.blockedTime),
  );
  gauge(
    'offthread_threadpool_size',
    'Effective UV_THREADPOOL_SIZE.',
    (s) => s.sinceStart.threadpool.size,
  );
  gauge(
    'offthread_threadpool_in_flight',
    'Thread-pool requests submitted and not completed, by type.',
    () => 0,
    {
      labelNames: ['type'],
      read: (s) => TYPES.map((t) => [{ type: t }, last(s).threadpool.inFlight[t]]),
    },
  );
  gauge(
    'offthread_threadpool_queued',
    'Thread-pool requests waiting for a thread, by type.',
    () => 0,
    {
      labelNames: ['type'],
      read: (s) => TYPES.map((t) => [{ type: t }, last(s).threadpool.queued[t]]),
    },
  );
  gauge(
    'offthread_threadpool_queued_peak',
    'Most requests queued at once in the last interval.',
    (s) => last(s).threadpool.peak.queued,
  );
  for (const q of ['p50', 'p99', 'max'] as const) {
    gauge(
      `offthread_threadpool_wait_${q}_seconds`,
      `Thread-pool queue wait ${q} over the last interval, seconds.`,
      (s) => sec(last(s).threadpool.wait[q]),
    );
  }
  gauge(
    'offthread_threadpool_probe_p99_seconds',
    'Canary thread-pool request round trip p99, seconds.',
    (s) => sec(last(s).threadpool.probe.p99),
  );
  gauge(
    'offthread_threadpool_saturation_ratio',
    'Share of the last interval all threads were busy (0..1).',
    (s) => last(s).threadpool.saturation,
  );
  gauge(
    'offthread_threadpool_utilization_ratio',
    'Mean share of threads busy over the last interval (0..1).',
    (s) => last(s).threadpool.utilization,
  );
  gauge(
    'offthread_threadpool_recommended_size',
    'Suggested UV_THREADPOOL_SIZE since start.',
    (s) => s.sinceStart.threadpool.recommendedSize,
  );
  return {
    metricNames: names,
    unregister() {
      for (const n of names) registry.removeSingleMetric(n);
    },
  };
}
