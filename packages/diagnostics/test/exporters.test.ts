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
  it('works with collectDefaultMetrics() called before it', async () => {
    const registry = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: registry });
    monitor = createMonitor({ sampleInterval: 300, blockThreshold: 40 }).start();
    const collector = createPrometheusCollector(monitor, { registry, client: promClient });
    expect(collector.metricNames).toContain('offthread_eventloop_delay_p99_seconds');
    expect(collector.metricNames).toContain('offthread_threadpool_queued');
    await exercise(monitor);
    const text = await registry.metrics();
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(text).toMatch(/^offthread_eventloop_delay_p99_seconds [\d.e-]+$/m);
    expect(text).toMatch(/^offthread_threadpool_size 4$/m);
    expect(text).toMatch(/^offthread_threadpool_queued\{type="crypto"\} \d+$/m);
    expect(text).toMatch(/^offthread_eventloop_blocks_total [1-9]\d*$/m);
    expect(text).toMatch(/^offthread_threadpool_saturation_ratio [\d.]+$/m);
    collector.unregister();
    expect(await registry.metrics()).not.toContain('offthread_threadpool_queued');
  });

  it('works with collectDefaultMetrics() called after it (no "already registered")', async () => {
    const registry = new promClient.Registry();
    monitor = createMonitor().start();
    const collector = createPrometheusCollector(monitor, { registry, client: promClient });
    expect(() => promClient.collectDefaultMetrics({ register: registry })).not.toThrow();
    const text = await registry.metrics();
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds');
    expect(text).toContain('offthread_eventloop_utilization_ratio');
    collector.unregister();
  });

  it('blocks and blocked time are counters that only go up', async () => {
    const registry = new promClient.Registry();
    monitor = createMonitor({ sampleInterval: 300, blockThreshold: 40 }).start();
    createPrometheusCollector(monitor, { registry, client: promClient });
    await exercise(monitor);
    const json = await registry.getMetricsAsJSON();
    const type = (n: string) => json.find((m) => m.name === n)?.type;
    expect(type('offthread_eventloop_blocks_total')).toBe('counter');
    expect(type('offthread_eventloop_blocked_seconds_total')).toBe('counter');
    const first = await registry.getSingleMetricAsString('offthread_eventloop_blocks_total');
    expect(first).toContain('# TYPE offthread_eventloop_blocks_total counter');
    const before = Number(/blocks_total (\d+)/.exec(first)![1]);
    expect(before).toBeGreaterThan(0);
    busy(80);
    await new Promise<void>((resolve) => monitor!.once('sample', () => resolve()));
    const after = Number(
      /blocks_total (\d+)/.exec(
        await registry.getSingleMetricAsString('offthread_eventloop_blocks_total'),
      )![1],
    );
    expect(after).toBe(before + 1);
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
    monitor = createMonitor({
      sampleInterval: 300,
      blockThreshold: 40,
      profileBlocks: true,
    }).start();
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
