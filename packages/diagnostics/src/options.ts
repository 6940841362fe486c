import type { ThreadpoolCounting } from './threadpool.js';

/** When the CPU profiler that attributes blocks runs. */
export type ProfileBlocks = boolean | 'after-block';

/**
 * A preset for the cost/detail trade-off. Both start the block profiler only after a block that
 * ran code (while V8's profiler is on, every call from JavaScript into C++ takes a slower path,
 * which costs far more than the samples), and count thread-pool requests with async_hooks only
 * while a queue is seen.
 * - `'development'`: the canary goes every 250 ms while the pool is in use (once a second
 *   otherwise); pool threads are CPU-profiled to name hot task functions.
 * - `'production'`: the canary goes every second; pool threads are not profiled.
 */
export type MonitorMode = 'development' | 'production';

/** Options of {@link createMonitor}. Every field is optional; see {@link defaultMonitorOptions}. */
export interface MonitorOptions {
  /**
   * Preset for the options below that are not given; see {@link MonitorMode} and
   * {@link productionMonitorOptions}. Defaults to `'development'`.
   */
  mode?: MonitorMode;
  /** How often a `sample` is taken and emitted, in ms. Defaults to 1000. */
  sampleInterval?: number;
  /** An event-loop stall longer than this (ms) is reported as a block. Defaults to 50. */
  blockThreshold?: number;
  /** Track the libuv thread pool (async_hooks counting + canary probe). Defaults to true. */
  threadpool?: boolean;
  /**
   * When to count each thread-pool request with async_hooks: `'on-queueing'` switches counting
   * on only while the canary or a sampled in-flight count shows a queue (and off 10 s after the
   * last one); `'always'` counts from the start (costs CPU on every async resource).
   * Defaults to `'on-queueing'`.
   */
  threadpoolCounting?: ThreadpoolCounting;
  /**
   * Attribute blocks to stacks with V8's sampling profiler: `'after-block'` from the first block
   * that ran code on (that first block has no stack; the profiler stops after 60 s without a
   * block), `true` from the start (every block has a stack, at a CPU cost on every request),
   * `false` never. Defaults to `'after-block'`.
   */
  profileBlocks?: ProfileBlocks;
  /**
   * Sampling interval of the CPU profiler, in microseconds. A block (at least `blockThreshold`
   * ms) gets `blockThreshold * 1000 / profilerInterval` samples or more, enough to name the
   * function; each sample costs CPU. Defaults to 10000 (10 ms).
   */
  profilerInterval?: number;
  /**
   * Period of the native delay histograms' timer, whose lateness is the event-loop delay, and
   * of the heartbeat that times blocks while watching, in whole ms (at most blockThreshold/2).
   * Defaults to 20.
   */
  delayResolution?: number;
  /**
   * Watch the @offthread/core pools of this process (threads, busy share, queue, wait, tasks/s),
   * found through core's registry on `globalThis`; costs nothing while there is no pool.
   * Defaults to true.
   */
  pools?: boolean;
  /**
   * CPU-profile the pools' threads (through the inspector, no code in the threads) to name the
   * hot task functions. Defaults to true (false in production mode).
   */
  profilePools?: boolean;
  /**
   * Keep the CPU profile of the whole run (the block profiler's windows merged), for
   * `monitor.cpuProfile()`; the CLI's `--cpuprofile` and HTML flame graph use it. Memory grows
   * with the run (one entry per sample). Defaults to false.
   */
  keepProfile?: boolean;
  /** Measure garbage-collection pauses (V8's `GCProfiler`, read once per sample). Defaults to true. */
  gc?: boolean;
  /**
   * Share of the time GC pauses are observed, in (0, 1]: V8's `GCProfiler` runs for 1 s in
   * every `1 / gcDutyCycle` s, and the pauses in between are estimated from those windows
   * (`process.gc.observed` in a sample says how much of its period was observed). The profiler
   * writes heap statistics for every collection, which a busy server pays per request; 1
   * observes every collection (the CLI does). Defaults to 0.1 (1 s in every 10 s).
   */
  gcDutyCycle?: number;
  /**
   * Name the HTTP route (method and path) a block happened in, from Node's
   * `http.server.request.start` diagnostics channel: `true` from the start, `'after-block'` from
   * the first block that ran code until a minute after the last block (a subscriber makes Node
   * publish a message per request, so an app that never blocks does not pay for it; blocks that
   * recur get their route), `false` never.
   * Defaults to `'after-block'`.
   */
  routes?: boolean | 'after-block';
  /**
   * How often the canary thread-pool request is sent while the pool is in use (pool requests in
   * flight, or the last canary waited for a thread), in ms; once a second otherwise (0 disables
   * it). Defaults to 250.
   */
  probeInterval?: number;
  /** How many recent blocks `snapshot()` keeps. Defaults to 20. */
  maxBlocks?: number;
  /** How many samples the monitor keeps in `history()`. Defaults to 3600. */
  maxSamples?: number;
}

/** The defaults of {@link MonitorOptions}. */
export const defaultMonitorOptions: Required<MonitorOptions> = Object.freeze({
  mode: 'development',
  sampleInterval: 1000,
  blockThreshold: 50,
  threadpool: true,
  threadpoolCounting: 'on-queueing',
  profileBlocks: 'after-block',
  profilerInterval: 10_000,
  delayResolution: 20,
  probeInterval: 250,
  pools: true,
  profilePools: true,
  routes: 'after-block',
  gc: true,
  gcDutyCycle: 0.1,
  keepProfile: false,
  maxBlocks: 20,
  maxSamples: 3600,
});

function positive(name: string, value: unknown, integer = false): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`options.${name} must be a positive ${integer ? 'integer' : 'number'}`);
  }
  if (value <= 0 || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `options.${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`,
    );
  }
}

/** What `mode: 'production'` changes from {@link defaultMonitorOptions}. */
export const productionMonitorOptions: Readonly<MonitorOptions> = Object.freeze({
  mode: 'production',
  probeInterval: 1000,
  profilePools: false,
});

/** Validate and fill in defaults. Throws TypeError/RangeError naming the bad option. */
export function resolveMonitorOptions(options: MonitorOptions = {}): Required<MonitorOptions> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('options must be an object');
  }
  positive('sampleInterval', options.sampleInterval);
  positive('blockThreshold', options.blockThreshold);
  positive('profilerInterval', options.profilerInterval, true);
  positive('delayResolution', options.delayResolution, true);
  positive('maxBlocks', options.maxBlocks, true);
  positive('maxSamples', options.maxSamples, true);
  if (options.gcDutyCycle !== undefined) {
    const d = options.gcDutyCycle;
    if (typeof d !== 'number' || Number.isNaN(d)) {
      throw new TypeError('options.gcDutyCycle must be a number in (0, 1], e.g. 0.1 or 1');
    }
    if (!(d > 0 && d <= 1)) {
      throw new RangeError(
        `options.gcDutyCycle must be a number in (0, 1] (1 observes every collection), got ${d}`,
      );
    }
  }
  if (options.probeInterval !== undefined && options.probeInterval !== 0) {
    positive('probeInterval', options.probeInterval);
  }
  if (
    options.routes !== undefined &&
    typeof options.routes !== 'boolean' &&
    options.routes !== 'after-block'
  ) {
    throw new TypeError(`options.routes must be true, false or 'after-block'`);
  }
  for (const key of ['threadpool', 'pools', 'profilePools', 'gc', 'keepProfile'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw new TypeError(`options.${key} must be a boolean`);
    }
  }
  if (
    options.profileBlocks !== undefined &&
    typeof options.profileBlocks !== 'boolean' &&
    options.profileBlocks !== 'after-block'
  ) {
    throw new TypeError(`options.profileBlocks must be true, false or 'after-block'`);
  }
  if (
    options.mode !== undefined &&
    options.mode !== 'development' &&
    options.mode !== 'production'
  ) {
    throw new TypeError(`options.mode must be 'development' or 'production'`);
  }
  if (
    options.threadpoolCounting !== undefined &&
    options.threadpoolCounting !== 'always' &&
    options.threadpoolCounting !== 'on-queueing'
  ) {
    throw new TypeError(`options.threadpoolCounting must be 'on-queueing' or 'always'`);
  }
  const resolved = {
    ...defaultMonitorOptions,
    ...(options.mode === 'production' ? productionMonitorOptions : {}),
  };
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined && k in resolved) (resolved as any)[k] = v;
  }
  return resolved;
}
