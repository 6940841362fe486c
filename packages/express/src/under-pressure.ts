import { isTaskPool, type TaskPool } from '@offthread/core';
import { describeValue as describe } from '@offthread/core/adapter';
import { createMonitor, type Monitor, type Sample } from '@offthread/diagnostics';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { getDefaultPool } from './default-pool.js';

/** Why the process is under pressure: the limit that was exceeded. */
export const PressureType = {
  EVENT_LOOP_DELAY: 'eventLoopDelay',
  EVENT_LOOP_UTILIZATION: 'eventLoopUtilization',
  HEAP_USED_BYTES: 'heapUsedBytes',
  RSS_BYTES: 'rssBytes',
  POOL_QUEUE: 'poolQueue',
  THREADPOOL_QUEUE_WAIT: 'threadpoolQueueWait',
  HEALTH_CHECK: 'healthCheck',
} as const;

export type PressureType = (typeof PressureType)[keyof typeof PressureType];

/** The measurements of the last sample interval. */
export interface PressureMetrics {
  /**
   * Event-loop delay of the last interval, ms: the mean delay, or the longest block that ended
   * in the interval when that is longer (so one long block is never averaged away).
   */
  eventLoopDelay: number;
  /** Share of the interval (0..1) the event loop was busy: measured per interval, not since start. */
  eventLoopUtilization: number;
  /** `process.memoryUsage().heapUsed`, bytes. */
  heapUsedBytes: number;
  /** `process.memoryUsage().rss`, bytes. */
  rssBytes: number;
  /** Tasks waiting in the offthread pool (`pool.stats().queued`); 0 when not measured. */
  poolQueue: number;
  /**
   * Longest wait for a libuv thread in the interval, ms, from the diagnostics monitor: its
   * canary request's round trip and the waits of the requests it counted. How long work such as
   * fs, dns.lookup, crypto and zlib waits for a thread. Holds its last value while no canary
   * came back (a canary stuck in the queue is counted when it returns). 0 when not measured.
   */
  threadpoolQueueWait: number;
  /** The last health check passed (true until the first one finishes). */
  healthy: boolean;
}

/** Options of {@link underPressure}. Every field is optional; a limit left out is not checked. */
export interface UnderPressureOptions {
  /** Most mean event-loop delay (ms) per interval. Not checked by default. */
  maxEventLoopDelay?: number;
  /** Most event-loop utilization (0 < x <= 1) per interval. Not checked by default. */
  maxEventLoopUtilization?: number;
  /** Most V8 heap in use, bytes. Not checked by default. */
  maxHeapUsedBytes?: number;
  /** Most resident set size, bytes. Not checked by default. */
  maxRssBytes?: number;
  /** Most tasks queued in the offthread pool (see `pool`). Not checked by default. */
  maxPoolQueue?: number;
  /** Most wait (ms) for a libuv thread, measured with a canary request. Not checked by default. */
  maxThreadpoolQueueWait?: number;
  /** The pool `maxPoolQueue` watches. Defaults to the default pool of `offThread()`. */
  pool?: TaskPool;
  /**
   * The `@offthread/diagnostics` monitor whose samples are checked: share the one your app
   * already runs (it must be started; its `sampleInterval` applies and `close()` leaves it
   * running). Defaults to a monitor of its own (see {@link UnderPressureMiddleware.monitor}).
   */
  monitor?: Monitor;
  /** How often (ms) the measurements are taken, for the monitor of its own. Defaults to 1000. */
  sampleInterval?: number;
  /** Seconds sent in `Retry-After` with a 503. Defaults to 10. */
  retryAfter?: number;
  /**
   * Answer a request that arrives under pressure yourself, instead of the default 503. You may
   * also call `next()` to let it through.
   */
  pressureHandler?: (
    req: Request,
    res: Response,
    next: NextFunction,
    type: PressureType,
    value: number | undefined,
  ) => void;
  /**
   * Checks external resources (database, cache...). Resolving `false` or throwing puts the process
   * under pressure (type `healthCheck`) until a later check passes. Not run by default.
   */
  healthCheck?: () => boolean | Promise<boolean>;
  /** How often (ms) `healthCheck` runs. Defaults to `sampleInterval`. */
  healthCheckInterval?: number;
  /**
   * A path (e.g. `'/status'`) answered with 200 `{ status: 'ok', metrics }`, or 503
   * `{ status: 'under pressure', type, metrics }`, for load balancers. Off by default.
   */
  statusRoute?: string;
}

/** The defaults of {@link UnderPressureOptions}. */
export const defaultUnderPressureOptions = Object.freeze({
  sampleInterval: 1000,
  retryAfter: 10,
});

/** The middleware {@link underPressure} returns. */
export interface UnderPressureMiddleware extends RequestHandler {
  /** Is a limit exceeded (as of the last sample or health check)? */
  isUnderPressure(): boolean;
  /** Which limit is exceeded and by how much, or `undefined`. */
  pressure(): { type: PressureType; value: number | undefined } | undefined;
  /** The last measurements. */
  metrics(): PressureMetrics;
  /**
   * The diagnostics monitor the measurements come from. Export its numbers the way
   * `@offthread/diagnostics` does: `createPrometheusCollector(pressure.monitor)` or
   * `createOpenTelemetryBridge(pressure.monitor)`.
   */
  readonly monitor: Monitor;
  /** Stop the timers (and the monitor of its own). Requests are let through afterwards. */
  close(): void;
}

/** Shortest sample interval: shorter ones measure timer noise. */
const RESOLUTION_MS = 10;
const knownOptions = new Set([
  'maxEventLoopDelay',
  'maxEventLoopUtilization',
  'maxHeapUsedBytes',
  'maxRssBytes',
  'maxPoolQueue',
  'maxThreadpoolQueueWait',
  'pool',
  'monitor',
  'sampleInterval',
  'retryAfter',
  'pressureHandler',
  'healthCheck',
  'healthCheckInterval',
  'statusRoute',
]);

/**
 * Load shedding: answer 503 with `Retry-After` while the process is over a limit, so it recovers
 * instead of queueing more work than it can finish. Mount it before the routes it protects.
 *
 * @example
 * const pressure = underPressure({ maxEventLoopDelay: 100, maxPoolQueue: 64, statusRoute: '/status' });
 * app.use(pressure);
 * if (pressure.isUnderPressure()) { ... }
 *
 * @throws {TypeError | RangeError} when an option is invalid (the message names it).
 */
export function underPressure(options: UnderPressureOptions = {}): UnderPressureMiddleware {
  const o = validate(options);
  const sampleInterval = o.sampleInterval ?? defaultUnderPressureOptions.sampleInterval;
  const retryAfter = String(o.retryAfter ?? defaultUnderPressureOptions.retryAfter);
  const pool = o.maxPoolQueue !== undefined ? (o.pool ?? getDefaultPool()) : o.pool;

  const metrics: PressureMetrics = {
    eventLoopDelay: 0,
    eventLoopUtilization: 0,
    heapUsedBytes: 0,
    rssBytes: 0,
    poolQueue: 0,
    threadpoolQueueWait: 0,
    healthy: true,
  };
  const memory = process.memoryUsage();
  metrics.heapUsedBytes = memory.heapUsed;
  metrics.rssBytes = memory.rss;
  let current: { type: PressureType; value: number | undefined } | undefined;
  let closed = false;

  // The measurements are @offthread/diagnostics' own: its heartbeat-based delay histograms see
  // a block even when it ends just before a sample (a per-sample reset of
  // monitorEventLoopDelay() would drop it), and its canary measures the libuv thread pool.
  const ownMonitor = o.monitor === undefined;
  const monitor =
    o.monitor ??
    createMonitor({
      mode: 'production',
      sampleInterval,
      profileBlocks: false,
      threadpool: o.maxThreadpoolQueueWait !== undefined,
      probeInterval: Math.min(250, sampleInterval),
    });

  const onSample = (sample: Sample) => {
    const loop = sample.eventLoop;
    let longestBlock = 0;
    for (const block of loop.blocks) longestBlock = Math.max(longestBlock, block.duration);
    metrics.eventLoopDelay = Math.max(loop.delay.mean, longestBlock);
    metrics.eventLoopUtilization = loop.utilization;
    metrics.heapUsedBytes = sample.process.memory.heapUsed;
    metrics.rssBytes = sample.process.memory.rss;
    const tp = sample.threadpool;
    // A canary that has not come back yet is in no sample: until one does, the last wait
    // holds (a pool stuck behind long jobs stays "under pressure" rather than looking idle).
    if (tp.enabled && (tp.probe.count > 0 || tp.wait.count > 0)) {
      metrics.threadpoolQueueWait = Math.max(tp.probe.max, tp.wait.max);
    }
    if (pool) metrics.poolQueue = pool.stats().queued;
    evaluate();
  };

  const evaluate = () => {
    current = undefined;
    const checks: [PressureType, number | undefined, number][] = [
      [PressureType.EVENT_LOOP_DELAY, o.maxEventLoopDelay, metrics.eventLoopDelay],
      [
        PressureType.EVENT_LOOP_UTILIZATION,
        o.maxEventLoopUtilization,
        metrics.eventLoopUtilization,
      ],
      [PressureType.HEAP_USED_BYTES, o.maxHeapUsedBytes, metrics.heapUsedBytes],
      [PressureType.RSS_BYTES, o.maxRssBytes, metrics.rssBytes],
      [PressureType.POOL_QUEUE, o.maxPoolQueue, metrics.poolQueue],
      [PressureType.THREADPOOL_QUEUE_WAIT, o.maxThreadpoolQueueWait, metrics.threadpoolQueueWait],
    ];
    for (const [type, limit, value] of checks) {
      if (limit !== undefined && value > limit) {
        current = { type, value };
        return;
      }
    }
    if (!metrics.healthy) current = { type: PressureType.HEALTH_CHECK, value: undefined };
  };

  monitor.on('sample', onSample);
  if (ownMonitor) monitor.start();

  let healthTimer: NodeJS.Timeout | undefined;
  if (o.healthCheck) {
    const check = o.healthCheck;
    let running = false;
    const runCheck = async () => {
      if (running) return;
      running = true;
      let healthy: boolean;
      try {
        healthy = (await check()) !== false;
      } catch {
        healthy = false;
      }
      running = false;
      if (closed) return;
      metrics.healthy = healthy;
      evaluate();
    };
    void runCheck();
    healthTimer = setInterval(runCheck, o.healthCheckInterval ?? sampleInterval);
    healthTimer.unref();
  }

  const middleware = function underPressureMiddleware(
    req: Request,
    res: Response,
    next: NextFunction,
  ): void {
    if (
      o.statusRoute !== undefined &&
      req.path === o.statusRoute &&
      (req.method === 'GET' || req.method === 'HEAD')
    ) {
      res.setHeader('Cache-Control', 'no-store');
      if (current) {
        res.setHeader('Retry-After', retryAfter);
        res.status(503).json({ status: 'under pressure', type: current.type, metrics });
      } else {
        res.status(200).json({ status: 'ok', metrics });
      }
      return;
    }
    if (!current || closed) {
      next();
      return;
    }
    if (o.pressureHandler) {
      o.pressureHandler(req, res, next, current.type, current.value);
      return;
    }
    res.setHeader('Retry-After', retryAfter);
    res.status(503).json({
      error: 'Service Unavailable',
      type: current.type,
      message: `The server is under pressure (${current.type}${current.value === undefined ? '' : ` ${round(current.value)}`}); retry after ${retryAfter} s.`,
    });
  };

  return Object.assign(middleware, {
    isUnderPressure: () => !closed && current !== undefined,
    pressure: () => (closed ? undefined : current),
    metrics: () => ({ ...metrics }),
    monitor,
    close: () => {
      if (closed) return;
      closed = true;
      current = undefined;
      monitor.off('sample', onSample);
      if (ownMonitor) monitor.stop();
      clearInterval(healthTimer);
    },
  });
}

function round(value: number): number {
  return value >= 100 ? Math.round(value) : Math.round(value * 1000) / 1000;
}

function validate(options: UnderPressureOptions): UnderPressureOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!knownOptions.has(key)) {
      throw new TypeError(
        `options.${key} is not an underPressure() option. Known options: ${[...knownOptions].join(', ')}`,
      );
    }
  }
  const positive = (name: keyof UnderPressureOptions, integer = false) => {
    const value = options[name];
    if (value === undefined) return;
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw new TypeError(
        `options.${name} must be a ${integer ? 'whole number' : 'number'}, got ${describe(value)}`,
      );
    }
    if (integer && !Number.isInteger(value)) {
      throw new TypeError(`options.${name} must be a whole number, got ${value}`);
    }
    if (value <= 0 || !Number.isFinite(value)) {
      throw new RangeError(`options.${name} must be a finite number > 0, got ${value}`);
    }
  };
  positive('maxEventLoopDelay');
  positive('maxEventLoopUtilization');
  positive('maxHeapUsedBytes');
  positive('maxRssBytes');
  positive('maxThreadpoolQueueWait');
  positive('sampleInterval');
  positive('healthCheckInterval');
  if (options.maxEventLoopUtilization !== undefined && options.maxEventLoopUtilization > 1) {
    throw new RangeError(
      `options.maxEventLoopUtilization must be a share between 0 and 1, got ${options.maxEventLoopUtilization}`,
    );
  }
  if (options.sampleInterval !== undefined && options.sampleInterval < RESOLUTION_MS) {
    throw new RangeError(
      `options.sampleInterval must be at least ${RESOLUTION_MS} ms, got ${options.sampleInterval}`,
    );
  }
  if (options.maxPoolQueue !== undefined) {
    const v = options.maxPoolQueue;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new TypeError(
        `options.maxPoolQueue must be a whole number of tasks, got ${describe(v)}`,
      );
    }
    if (v < 0) throw new RangeError(`options.maxPoolQueue must be >= 0, got ${v}`);
  }
  if (options.retryAfter !== undefined) {
    const v = options.retryAfter;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new TypeError(
        `options.retryAfter must be a whole number of seconds, got ${describe(v)}`,
      );
    }
    if (v < 0) throw new RangeError(`options.retryAfter must be >= 0 seconds, got ${v}`);
  }
  if (options.pool !== undefined && !isTaskPool(options.pool)) {
    throw new TypeError(
      `options.pool must be a Pool from @offthread/core (or another TaskPool), got ${describe(options.pool)}`,
    );
  }
  const monitor = options.monitor as Partial<Monitor> | undefined;
  if (
    monitor !== undefined &&
    (monitor === null || typeof monitor.on !== 'function' || typeof monitor.snapshot !== 'function')
  ) {
    throw new TypeError(
      `options.monitor must be a Monitor from @offthread/diagnostics' createMonitor(), got ${describe(monitor)}`,
    );
  }
  for (const name of ['pressureHandler', 'healthCheck'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new TypeError(`options.${name} must be a function, got ${describe(options[name])}`);
    }
  }
  if (
    options.statusRoute !== undefined &&
    (typeof options.statusRoute !== 'string' || !options.statusRoute.startsWith('/'))
  ) {
    throw new TypeError(
      `options.statusRoute must be a path starting with '/', like '/status', got ${describe(options.statusRoute)}`,
    );
  }
  return options;
}
