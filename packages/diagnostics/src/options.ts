/** Options of {@link createMonitor}. Every field is optional; see {@link defaultMonitorOptions}. */
export interface MonitorOptions {
  /** How often a `sample` is taken and emitted, in ms. Defaults to 1000. */
  sampleInterval?: number;
  /** An event-loop stall longer than this (ms) is reported as a block. Defaults to 50. */
  blockThreshold?: number;
  /** Track the libuv thread pool (async_hooks counting + canary probe). Defaults to true. */
  threadpool?: boolean;
  /** Attribute blocks to stacks with V8's sampling profiler. Defaults to true. */
  profileBlocks?: boolean;
  /** Sampling interval of the CPU profiler, in microseconds. Defaults to 1000. */
  profilerInterval?: number;
  /** Period of the heartbeat timer whose lateness is the event-loop delay, in ms (at most blockThreshold/2). Defaults to 20. */
  delayResolution?: number;
  /** How often the canary thread-pool request is sent, in ms (0 disables it). Defaults to 250. */
  probeInterval?: number;
  /** How many recent blocks `snapshot()` keeps. Defaults to 20. */
  maxBlocks?: number;
  /** How many samples the monitor keeps in `history()`. Defaults to 3600. */
  maxSamples?: number;
}

/** The defaults of {@link MonitorOptions}. */
export const defaultMonitorOptions: Required<MonitorOptions> = Object.freeze({
  sampleInterval: 1000,
  blockThreshold: 50,
  threadpool: true,
  profileBlocks: true,
  profilerInterval: 1000,
  delayResolution: 20,
  probeInterval: 250,
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
  if (options.probeInterval !== undefined && options.probeInterval !== 0) {
    positive('probeInterval', options.probeInterval);
  }
  for (const key of ['threadpool', 'profileBlocks'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw new TypeError(`options.${key} must be a boolean`);
    }
  }
  const resolved = { ...defaultMonitorOptions };
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined && k in resolved) (resolved as any)[k] = v;
  }
  return resolved;
}
