import type { Monitor } from '../monitor.js';
import type { Snapshot } from '../types.js';
import { loadPeer } from './load-peer.js';

type OtelApi = typeof import('@opentelemetry/api');
type Meter = import('@opentelemetry/api').Meter;
type ObservableGauge = import('@opentelemetry/api').ObservableGauge;

/** Options of {@link createOpenTelemetryBridge}. Every field is optional. */
export interface OpenTelemetryBridgeOptions {
  /** Meter to create instruments on. Defaults to `metrics.getMeter('@offthread/diagnostics')`. */
  meter?: Meter;
  /** The @opentelemetry/api module to use. Defaults to `require('@opentelemetry/api')`. */
  api?: OtelApi;
}

/** What {@link createOpenTelemetryBridge} returns. */
export interface OpenTelemetryBridge {
  /** Names of the observable gauges created. */
  readonly instrumentNames: string[];
  /** Stop reporting (removes the batch callback). */
  shutdown(): void;
}

/**
 * Report a monitor's numbers as OpenTelemetry observable gauges, following the
 * `nodejs.eventloop.*` semantic conventions (seconds) plus `offthread.threadpool.*`.
 *
 * @param monitor A started {@link Monitor}.
 * @param options See {@link OpenTelemetryBridgeOptions}.
 * @throws {DiagnosticsError} ERR_OFFTHREAD_DIAG_PEER_MISSING when @opentelemetry/api is absent.
 */
export function createOpenTelemetryBridge(
  monitor: Monitor,
  options: OpenTelemetryBridgeOptions = {},
): OpenTelemetryBridge {
  const meter =
    options.meter ??
    (
      options.api ?? loadPeer<OtelApi>('@opentelemetry/api', 'createOpenTelemetryBridge')
    ).metrics.getMeter('@offthread/diagnostics');
  const gauges: [ObservableGauge, (s: Snapshot) => number, Record<string, string>?][] = [];
  const names: string[] = [];
  const add = (
    name: string,
    description: string,
    unit: string,
    read: (s: Snapshot) => number,
    attrs?: Record<string, string>[],
  ) => {
    const g = meter.createObservableGauge(name, { description, unit });
    names.push(name);
    if (attrs) for (const a of attrs) gauges.push([g, read, a]);
    else gauges.push([g, read]);
  };
  const last = (s: Snapshot) => s.interval ?? s.sinceStart;
  for (const q of ['min', 'max', 'mean', 'p50', 'p90', 'p99'] as const) {
    add(
      `nodejs.eventloop.delay.${q}`,
      `Event-loop delay ${q} over the last interval.`,
      's',
      (s) => last(s).eventLoop.delay[q] / 1000,
    );
  }
  add(
    'nodejs.eventloop.utilization',
    'Event-loop utilization over the last interval.',
    '1',
    (s) => last(s).eventLoop.utilization,
  );
  add(
    'offthread.eventloop.blocks',
    'Event-loop blocks since start.',
    '{block}',
    (s) => s.sinceStart.eventLoop.blockCount,
  );
  add(
    'offthread.threadpool.size',
    'Effective UV_THREADPOOL_SIZE.',
    '{thread}',
    (s) => s.sinceStart.threadpool.size,
  );
  const types = ['fs', 'dns', 'crypto', 'zlib', 'other'] as const;
  const byType = (field: 'inFlight' | 'queued') => (s: Snapshot, t: string) =>
    last(s).threadpool[field][t as (typeof types)[number]];
  const inflight = meter.createObservableGauge('offthread.threadpool.in_flight', {
    description: 'Thread-pool requests in flight, by type.',
    unit: '{request}',
  });
  const queued = meter.createObservableGauge('offthread.threadpool.queued', {
    description: 'Thread-pool requests waiting for a thread, by type.',
    unit: '{request}',
  });
  names.push('offthread.threadpool.in_flight', 'offthread.threadpool.queued');
  add(
    'offthread.threadpool.wait.p99',
    'Thread-pool queue wait p99 over the last interval.',
    's',
    (s) => last(s).threadpool.wait.p99 / 1000,
  );
  add(
    'offthread.threadpool.wait.max',
    'Thread-pool queue wait max over the last interval.',
    's',
    (s) => last(s).threadpool.wait.max / 1000,
  );
  add(
    'offthread.threadpool.saturation',
    'Share of the last interval all threads were busy.',
    '1',
    (s) => last(s).threadpool.saturation,
  );
  add(
    'offthread.threadpool.recommended_size',
    'Suggested UV_THREADPOOL_SIZE.',
    '{thread}',
    (s) => s.sinceStart.threadpool.recommendedSize,
  );

  const callback = (result: import('@opentelemetry/api').BatchObservableResult) => {
    let s: Snapshot;
    try {
      s = monitor.snapshot();
    } catch {
      return;
    }
    for (const [g, read, attrs] of gauges) result.observe(g, read(s), attrs);
    for (const t of types) {
      result.observe(inflight, byType('inFlight')(s, t), { type: t });
      result.observe(queued, byType('queued')(s, t), { type: t });
    }
  };
  const observables = [...new Set(gauges.map(([g]) => g)), inflight, queued];
  meter.addBatchObservableCallback(callback, observables);
  return {
    instrumentNames: names,
    shutdown() {
      meter.removeBatchObservableCallback(callback, observables);
    },
  };
}
