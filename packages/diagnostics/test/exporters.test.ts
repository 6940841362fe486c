import { pbkdf2 } from 'node:crypto';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import * as promClient from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMonitor,
  createOpenTelemetryBridge,
  createPrometheusCollector,
  type Monitor,
} from '../src/index.js';

function busy(ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

async function exercise(monitor: Monitor) {
  // One block, and some thread-pool work, then wait for a sample interval to close.
  busy(80);
  await Promise.all(
    Array.from({ length: 8 }, () => new Promise((r) => pbkdf2('a', 'b', 2000, 16, 'sha256', r))),
  );
  await new Promise<void>((resolve) => monitor.once('sample', () => resolve()));
}

let monitor: Monitor | null = null;
afterEach(() => {
  monitor?.stop();
  monitor = null;
});

describe('prom-client collector', () => {
  it('exposes event-loop and thread-pool gauges, skipping names already registered', async () => {
    const registry = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: registry });
    monitor = createMonitor({ sampleInterval: 300, blockThreshold: 40 }).start();
    const collector = createPrometheusCollector(monitor, { registry, client: promClient });
    // collectDefaultMetrics already owns nodejs_eventloop_lag_p99_seconds: it is kept, not duplicated.
    expect(collector.metricNames).not.toContain('nodejs_eventloop_lag_p99_seconds');
    expect(collector.metricNames).toContain('offthread_threadpool_queued');
    await exercise(monitor);
    const text = await registry.metrics();
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(text).toMatch(/^offthread_threadpool_size 4$/m);
    expect(text).toMatch(/^offthread_threadpool_queued\{type="crypto"\} \d+$/m);
    expect(text).toMatch(/^offthread_eventloop_blocks_total [1-9]\d*$/m);
    expect(text).toMatch(/^offthread_threadpool_saturation_ratio [\d.]+$/m);
    collector.unregister();
    expect(await registry.metrics()).not.toContain('offthread_threadpool_queued');
  });

  it('registers nodejs_eventloop_lag_* itself on an empty registry', () => {
    const registry = new promClient.Registry();
    monitor = createMonitor().start();
    const c = createPrometheusCollector(monitor, { registry });
    expect(c.metricNames).toContain('nodejs_eventloop_lag_p99_seconds');
    expect(c.metricNames).toContain('nodejs_eventloop_utilization_ratio');
  });
});

describe('OpenTelemetry bridge', () => {
  it('reports observable gauges through a MeterProvider', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    monitor = createMonitor({ sampleInterval: 300, blockThreshold: 40 }).start();
    const bridge = createOpenTelemetryBridge(monitor, { meter: provider.getMeter('test') });
    await exercise(monitor);
    await reader.forceFlush();
    const metrics = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const byName = new Map(metrics.map((m) => [m.descriptor.name, m]));
    expect(byName.get('nodejs.eventloop.delay.p99')?.descriptor.unit).toBe('s');
    expect(byName.get('offthread.threadpool.size')?.dataPoints[0]?.value).toBe(4);
    const queued = byName.get('offthread.threadpool.queued')!;
    expect(queued.dataPoints.map((d) => d.attributes.type).sort()).toEqual([
      'crypto',
      'dns',
      'fs',
      'other',
      'zlib',
    ]);
    expect(bridge.instrumentNames).toContain('nodejs.eventloop.utilization');
    bridge.shutdown();
    await provider.shutdown();
  });

  it('works with the global meter from @opentelemetry/api when no meter is given', () => {
    monitor = createMonitor().start();
    const bridge = createOpenTelemetryBridge(monitor);
    expect(bridge.instrumentNames.length).toBeGreaterThan(10);
    bridge.shutdown();
  });
});

describe('library monitor', () => {
  it('emits block events with the stack of the blocking function', async () => {
    monitor = createMonitor({ sampleInterval: 300, blockThreshold: 40 }).start();
    const block = new Promise<import('../src/index.js').Block>((r) => monitor!.once('block', r));
    await new Promise((r) => setTimeout(r, 50));
    busy(120);
    const b = await block;
    expect(b.duration).toBeGreaterThan(80);
    expect(b.stack.length).toBeGreaterThan(0);
    const s = monitor.snapshot();
    expect(s.sinceStart.eventLoop.blockCount).toBe(1);
    expect(s.sinceStart.threadpool.size).toBe(4);
    expect(s.sinceStart.process.memory.rss).toBeGreaterThan(0);
    monitor.stop();
    // Frozen after stop.
    expect(monitor.snapshot()).toBe(monitor.snapshot());
    expect(monitor.running).toBe(false);
  });
});
