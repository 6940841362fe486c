import diagnosticsChannel from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import {
  type EventLoopUtilization,
  type IntervalHistogram,
  monitorEventLoopDelay,
  performance,
} from 'node:perf_hooks';
import { GCProfiler } from 'node:v8';
import { DiagnosticsError, DiagnosticsErrorCode } from './errors.js';
import { type MergedProfile, ProfileMerger } from './flame.js';
import { type MonitorOptions, resolveMonitorOptions } from './options.js';
import { PoolWatcher } from './pools.js';
import { attribute, type CpuProfile, HotFunctionTable, RollingProfiler } from './profiler.js';
import { round } from './stats.js';
import { disabledThreadpoolStats, ThreadpoolTracker } from './threadpool.js';
import type {
  Block,
  DelayStats,
  EventLoopStats,
  LoopCounters,
  ProcessStats,
  Sample,
  Snapshot,
} from './types.js';

/** Events of a {@link Monitor}. */
export interface MonitorEvents {
  /** An event-loop block longer than `blockThreshold` ended. */
  block: [block: Block];
  /** A sample interval ended. */
  sample: [sample: Sample];
}

/** The object {@link createMonitor} returns. */
export interface Monitor extends EventEmitter<MonitorEvents> {
  /** The resolved options. */
  readonly options: Readonly<Required<MonitorOptions>>;
  /** Whether the monitor is running. */
  readonly running: boolean;
  /** Start measuring. Idempotent. */
  start(): this;
  /** Stop measuring and release timers, hooks and the profiler. Idempotent. */
  stop(): this;
  /**
   * The last sample interval and everything since start. Works after `stop()` (frozen).
   * @throws {DiagnosticsError} ERR_OFFTHREAD_DIAG_NOT_STARTED before the first `start()`.
   */
  snapshot(): Snapshot;
  /** Samples kept so far, oldest first (at most `maxSamples`). */
  history(): Sample[];
  /**
   * With `keepProfile`: the CPU profile of the run so far (a `.cpuprofile` for Chrome DevTools
   * or speedscope), else null. Complete after `stop()`.
   */
  cpuProfile(): MergedProfile | null;
}

const NS = 1e6;

/**
 * CPU time of this thread where Node can tell (22.19+/23.9+: `process.threadCpuUsage()`), else
 * of the whole process (all threads: an upper bound when other threads were busy too). It
 * witnesses that the thread ran during a block rather than waited for a busy machine.
 */
const threadCpu: () => NodeJS.CpuUsage =
  typeof (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage === 'function'
    ? () => (process as unknown as { threadCpuUsage: () => NodeJS.CpuUsage }).threadCpuUsage()
    : () => process.cpuUsage();
const cpuMs = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) =>
  (a.user - b.user + a.system - b.system) / 1000;

/**
 * CPU time spent within a block, estimated from a window around it: the window's CPU time
 * minus what the loop was busy with outside the block (its active time, from ELU, minus the
 * block). A thread that waited for a busy machine during the "block" gets little.
 */
function ranInBlock(cpuMsInWindow: number, activeMsInWindow: number, late: number): number {
  return Math.max(0, cpuMsInWindow - Math.max(0, activeMsInWindow - late));
}
/** How long the heartbeat stays on after the last block (and the 'after-block' profiler). */
const WATCH_HOLD_MS = 60_000;
/** Period of the cheap block check while no block has been seen for a while, ms. */
const CHECK_EVERY_MS = 250;
/** Length of one GC observation window, ms (see `gcDutyCycle`). */
const GC_WINDOW_MS = 1000;

function uvCounters(): LoopCounters | null {
  const info = (performance.nodeTiming as { uvMetricsInfo?: LoopCounters }).uvMetricsInfo;
  if (!info || typeof info.loopCount !== 'number') return null;
  return { loopCount: info.loopCount, events: info.events, eventsWaiting: info.eventsWaiting };
}

/**
 * Lateness percentiles from a native event-loop delay histogram, whose values are the time
 * between two of its timer ticks (ns): lateness is that minus the resolution.
 */
function delayStats(h: IntervalHistogram, resolutionMs: number, maxLate = 0): DelayStats {
  if (h.count === 0) {
    const max = round(maxLate);
    return { min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max, count: 0 };
  }
  const ms = (ns: number) => round(Math.max(0, ns / NS - resolutionMs));
  return {
    min: ms(h.min),
    mean: ms(h.mean),
    p50: ms(h.percentile(50)),
    p90: ms(h.percentile(90)),
    p99: ms(h.percentile(99)),
    max: Math.max(ms(h.max), round(maxLate)),
    count: h.count,
  };
}

class MonitorImpl extends EventEmitter<MonitorEvents> implements Monitor {
  readonly options: Readonly<Required<MonitorOptions>>;
  private started = false;
  private active = false;
  private startedAt = 0;
  /**
   * Node's native event-loop delay histograms: a libuv timer records each tick in C++, so the
   * delay percentiles cost no JavaScript and no wake-up of their own. All four are enabled in
   * one synchronous step, so their timers share due times and fire in the same loop turn.
   * `eld` is reset per sample interval (a reset drops the tick in flight, so the interval's max
   * is raised to any block seen in it); `total` is never reset (histograms cannot be merged).
   */
  private eld: IntervalHistogram | null = null;
  private total: IntervalHistogram | null = null;
  /**
   * Two more, reset in turn by the block check: a reset drops the tick in flight, which the
   * other one still records, so a block shows in at least one of them.
   */
  private blk: [IntervalHistogram, IntervalHistogram] | null = null;
  /** Largest tick of each `blk` histogram already accounted for (ns). */
  private blkSeen: [number, number] = [0, 0];
  private blkNext: 0 | 1 = 0;
  private blkCount = 0;
  private checkTimer: NodeJS.Timeout | null = null;
  private lastCheck = 0;
  private checkCpu: NodeJS.CpuUsage | null = null;
  private checkElu: EventLoopUtilization | null = null;
  private drivesTracker = false;
  private drivesSample = false;
  private lastSampleAt = 0;
  private readonly onCheckTimer = () => {
    if (!this.active) return;
    this.check();
    if (this.options.gc) this.gcTick(performance.now());
    if (
      this.drivesSample &&
      performance.now() - this.lastSampleAt >= this.options.sampleInterval - CHECK_EVERY_MS / 2
    ) {
      this.takeSample();
    }
  };
  /** Whether the heartbeat (precise block timing, for profiler and routes) is running. */
  private watching = false;
  /** Resolution of the native histograms, ms (whole ms, at most blockThreshold/2). */
  private resolution = 20;
  /** Largest lateness of a block in the current interval, ms (see `eld`). */
  private intervalMaxLate = 0;
  private eluStart: EventLoopUtilization | null = null;
  private eluLast: EventLoopUtilization | null = null;
  private cpuStart: NodeJS.CpuUsage | null = null;
  private cpuLast: NodeJS.CpuUsage | null = null;
  private uvStart: LoopCounters | null = null;
  private uvLast: LoopCounters | null = null;
  private intervalStart = 0;
  private sampleTimer: NodeJS.Timeout | null = null;
  private beatTimer: NodeJS.Timeout | null = null;
  private lastBeat = 0;
  private lastRoll = 0;
  private beatEvery: number;
  private blocksInterval: Block[] = [];
  private recentBlocks: Block[] = [];
  private blockCount = 0;
  private blockedTime = 0;
  private intervalBlockedTime = 0;
  private tracker: ThreadpoolTracker | null = null;
  private poolWatcher: PoolWatcher | null = null;
  private profiler: RollingProfiler | null = null;
  private lastBlockAt = 0;
  private beatCpu: NodeJS.CpuUsage | null = null;
  private beatElu: EventLoopUtilization | null = null;
  /** Recent HTTP request starts (performance.now() ms), newest last, to name a block's route. */
  private requests: { at: number; method: string; path: string }[] = [];
  private onRequest: ((message: unknown) => void) | null = null;
  /**
   * GC pauses from V8's GCProfiler: it notes each collection in C++ and hands them over when
   * drained. (A PerformanceObserver of 'gc' entries runs JavaScript and a setImmediate for
   * every collection: under load that was the monitor's largest cost.) GCProfiler still writes
   * the heap-space statistics of every collection as JSON text in C++ (about 3% of a busy
   * hello-world server's CPU in `perf`), so with `gcDutyCycle` < 1 it runs in windows of
   * GC_WINDOW_MS and the pauses of the time in between are estimated from the windows.
   */
  private gcProfiler: GCProfiler | null = null;
  /** When the current observation window began (performance.now() ms), or the last one did. */
  private gcOnAt = 0;
  /** performance.now() of the last drain (or window start): observed time is counted from it. */
  private gcDrainedAt = 0;
  /** Observed GC of the current sample interval and since start, with the time observed. */
  private gcInterval = { count: 0, pauseMs: 0, observedMs: 0 };
  private gcTotal = { count: 0, pauseMs: 0, observedMs: 0 };
  /** Rates of the last observation window (per ms), for the intervals no window covered. */
  private gcRate = { count: 0, pauseMs: 0 };
  private gcWindowAcc = { count: 0, pauseMs: 0, observedMs: 0 };
  private merger: ProfileMerger | null = null;
  private heapAtStart = 0;
  private hot = new HotFunctionTable();
  private profSamples = 0;
  private profIdle = 0;
  private totalProfSamples = 0;
  private totalProfIdle = 0;
  private lastSample: Sample | null = null;
  private samples: Sample[] = [];
  private frozen: Snapshot | null = null;

  constructor(options: MonitorOptions) {
    super();
    this.options = Object.freeze(resolveMonitorOptions(options));
    // Beat often enough to see a block soon after it ends, but not more than ~50 times a second.
    this.beatEvery = Math.max(
      1,
      Math.min(this.options.delayResolution, this.options.blockThreshold / 2),
    );
    this.resolution = Math.max(1, Math.floor(this.beatEvery));
  }

  /**
   * Sum of all event-loop lateness since start, ms, from the never-reset native histogram (sum
   * of ticks minus their nominal period): lets the canary tell a busy loop from a busy pool.
   * Reads the histogram's mean (a walk over its buckets, tens of µs): once per canary.
   */
  private lateTotal(): number {
    const h = this.total;
    if (!h || h.count === 0) return 0;
    return (h.count * (h.mean - this.resolution * NS)) / NS;
  }

  get running(): boolean {
    return this.active;
  }

  start(): this {
    if (this.active) return this;
    const o = this.options;
    this.active = true;
    this.started = true;
    this.frozen = null;
    this.startedAt = Date.now();
    this.intervalStart = this.startedAt;
    this.startHistograms();
    this.intervalMaxLate = 0;
    this.eluStart = this.eluLast = performance.eventLoopUtilization();
    this.cpuStart = this.cpuLast = process.cpuUsage();
    this.uvStart = this.uvLast = uvCounters();
    if (o.threadpool) {
      this.tracker = new ThreadpoolTracker(o.probeInterval, o.threadpoolCounting, () =>
        this.lateTotal(),
      );
      // A probe period the block check can keep (a multiple of its own) runs from that check's
      // timer: one wake-up instead of two.
      this.drivesTracker =
        this.tracker.period >= CHECK_EVERY_MS && this.tracker.period % CHECK_EVERY_MS === 0;
      this.tracker.start(this.drivesTracker);
    }
    if (o.keepProfile) this.merger = new ProfileMerger();
    if (o.profileBlocks === true) this.startProfiler();
    this.heapAtStart = process.memoryUsage().heapUsed;
    this.gcInterval = { count: 0, pauseMs: 0, observedMs: 0 };
    this.gcTotal = { count: 0, pauseMs: 0, observedMs: 0 };
    this.gcWindowAcc = { count: 0, pauseMs: 0, observedMs: 0 };
    this.gcRate = { count: 0, pauseMs: 0 };
    // The first window opens at start, so a short run is observed in full.
    if (o.gc) this.gcOn(performance.now());
    if (o.routes === true) this.watchRoutes();
    if (o.pools) {
      this.poolWatcher = new PoolWatcher(o.profilePools, 10_000);
      this.poolWatcher.start();
    }
    this.lastBeat = this.lastRoll = this.lastCheck = performance.now();
    this.checkCpu = threadCpu();
    this.checkElu = performance.eventLoopUtilization();
    this.lastBlockAt = -Infinity;
    // Check and sample run after this loop turn's timers (setImmediate), so a native histogram
    // whose tick is due in the same turn (the first one after a block) has recorded it by then.
    // A sample interval that is a multiple of the check's period runs from the check's timer:
    // every separate timer is one more wake-up of an idle process.
    this.lastSampleAt = performance.now();
    this.drivesSample = o.sampleInterval % CHECK_EVERY_MS === 0;
    this.checkTimer = setInterval(() => setImmediate(this.onCheckTimer), CHECK_EVERY_MS);
    this.checkTimer.unref();
    this.updateWatching();
    if (!this.drivesSample) {
      this.sampleTimer = setInterval(
        () => setImmediate(() => this.active && this.takeSample()),
        o.sampleInterval,
      );
      this.sampleTimer.unref();
    }
    return this;
  }

  private startHistograms(): void {
    const make = () => {
      const h = monitorEventLoopDelay({ resolution: this.resolution });
      h.enable();
      return h;
    };
    this.eld = make();
    this.total = make();
    this.blk = [make(), make()];
    this.blkSeen = [0, 0];
    this.blkCount = 0;
  }

  private stopHistograms(): void {
    this.eld?.disable();
    this.total?.disable();
    for (const h of this.blk ?? []) h.disable();
    this.blk = null;
  }

  /**
   * The heartbeat (a JS timer every `beatEvery` ms whose lateness times each block precisely,
   * with the window the profiler and the route list need) runs only while something uses that
   * precision: the profiler, route tracking, or a block in the last minute (and the first
   * moments after start). Otherwise the cheap
   * check finds blocks in the native histograms four times a second.
   */
  private updateWatching(): void {
    const want =
      // A native histogram records nothing for its first tick (it has no tick before it to
      // measure from), so the heartbeat covers the start until one has been recorded.
      (this.total?.count ?? 0) === 0 ||
      this.profiler !== null ||
      this.onRequest !== null ||
      performance.now() - this.lastBlockAt < WATCH_HOLD_MS;
    if (want === this.watching) return;
    this.watching = want;
    if (want) {
      this.lastBeat = performance.now();
      this.beatCpu = threadCpu();
      this.beatElu = performance.eventLoopUtilization();
      this.scheduleBeat();
    } else {
      if (this.beatTimer) clearTimeout(this.beatTimer);
      this.beatTimer = null;
      // Blocks so far were the heartbeat's to report.
      this.markBlkSeen();
    }
  }

  /** Whether a histogram tick of `ns` is a block: late by at least blockThreshold. */
  private isBlockTick(ns: number): boolean {
    return ns / NS - this.resolution >= this.options.blockThreshold;
  }

  private markBlkSeen(): void {
    if (!this.blk) return;
    this.blkSeen = [this.blk[0].max, this.blk[1].max];
  }

  /**
   * The cheap block check: the largest tick the native histograms recorded since the last
   * check. Without the heartbeat this is how blocks are found; a block's duration is known to
   * within the resolution (as with the heartbeat), its end only to within this check's period.
   */
  private check(): void {
    const blk = this.blk;
    if (!blk) return;
    const now = performance.now();
    const cpu = threadCpu();
    if (this.drivesTracker) this.tracker?.poll(now);
    if (!this.watching) {
      let ns = 0;
      for (const i of [0, 1] as const) {
        const max = blk[i].max;
        if (max > this.blkSeen[i] && max > ns) ns = max;
      }
      const late = ns / NS - this.resolution;
      if (this.isBlockTick(ns)) {
        // The block ended after the last check; when it also delayed this check, just now.
        const checkLate = now - this.lastCheck - CHECK_EVERY_MS;
        const end =
          checkLate >= late - 2 * this.resolution ? now : (this.lastCheck + late + now) / 2;
        const ranMs = this.checkCpu ? cpuMs(cpu, this.checkCpu) : late;
        this.markBlkSeen();
        const elu = performance.eventLoopUtilization();
        const active = this.checkElu ? elu.active - this.checkElu.active : late;
        // The window is longer than the block: its CPU time outside the block is no witness.
        this.foundBlock(
          Math.max(this.lastCheck, end - late - this.resolution),
          end,
          late,
          ranInBlock(ranMs, active, late),
          ranInBlock(ranMs, active, late),
        );
      }
    } else if (this.profiler && now - this.lastRoll > 10_000) {
      if (this.options.profileBlocks === 'after-block' && now - this.lastBlockAt > WATCH_HOLD_MS) {
        this.stopProfiler();
      } else this.roll();
    }
    if (this.onRequest && this.options.routes === 'after-block' && !this.recentBlock(now)) {
      this.unwatchRoutes();
    }
    // Rotate: reset one of the two, unless no tick at all was recorded since the last check
    // (then both still hold the same tick in flight, and resetting would lose it). Only one
    // that holds a block-sized tick needs it (a later, shorter block would not raise its max):
    // a reset clears the histogram's whole bucket array, the largest cost of an idle monitor's
    // check, and a histogram whose max is below a block still shows the next block.
    const count = this.total?.count ?? 0;
    if (count !== this.blkCount) {
      const i = this.blkNext;
      if (this.isBlockTick(blk[i].max)) {
        blk[i].reset();
        this.blkSeen[i] = 0;
      }
      this.blkNext = i === 0 ? 1 : 0;
      this.blkCount = count;
    }
    this.lastCheck = now;
    this.checkCpu = cpu;
    this.checkElu = performance.eventLoopUtilization();
    this.updateWatching();
  }

  private recentBlock(now: number): boolean {
    return now - this.lastBlockAt < WATCH_HOLD_MS;
  }

  /** Remember recent HTTP request starts, to name the route a block happened in. */
  private watchRoutes(): void {
    if (this.onRequest) return;
    // Node's own HTTP server publishes every request here (Express, Nest, Fastify included);
    // one small object per request, kept only for the last few.
    this.onRequest = (message) => {
      const req = (message as { request?: { method?: string; url?: string } }).request;
      if (!req) return;
      const url = req.url ?? '';
      const q = url.indexOf('?');
      this.requests.push({
        at: performance.now(),
        method: req.method ?? 'GET',
        path: q >= 0 ? url.slice(0, q) : url,
      });
      if (this.requests.length > 64) this.requests.splice(0, 32);
    };
    diagnosticsChannel.subscribe('http.server.request.start', this.onRequest);
  }

  private unwatchRoutes(): void {
    if (this.onRequest) diagnosticsChannel.unsubscribe('http.server.request.start', this.onRequest);
    this.onRequest = null;
    this.requests = [];
  }

  private startProfiler(): void {
    const p = new RollingProfiler(this.options.profilerInterval);
    if (p.init()) {
      this.profiler = p;
      p.start();
    }
  }

  /** Stop the profiler and keep what its last window saw. */
  private stopProfiler(): void {
    const last = this.profiler?.stop();
    this.profiler = null;
    if (last) {
      this.merger?.add(last);
      const { samples, idle } = this.hot.add(last);
      this.profSamples += samples;
      this.profIdle += idle;
      this.totalProfSamples += samples;
      this.totalProfIdle += idle;
    }
  }

  private scheduleBeat(): void {
    if (this.beatTimer) this.beatTimer.refresh();
    else {
      this.beatTimer = setTimeout(() => this.beat(), this.beatEvery);
      this.beatTimer.unref();
    }
  }

  /** A heartbeat timer: when it fires late by more than blockThreshold, the loop was blocked. */
  private beat(): void {
    if (!this.watching) return;
    const now = performance.now();
    const late = now - this.lastBeat - this.beatEvery;
    // CPU time since the last beat tells a block (the process ran) from a process that a busy
    // machine did not schedule: the latter is no block of the app's, and must not switch the
    // 'after-block' profiler on. (The profiler's sample count cannot tell: on a loaded machine
    // its sampling thread starves too.) One getrusage() per beat.
    const cpu = threadCpu();
    if (late >= this.options.blockThreshold) {
      const ranMs = this.beatCpu ? cpuMs(cpu, this.beatCpu) : late;
      const elu = performance.eventLoopUtilization();
      const active = this.beatElu ? elu.active - this.beatElu.active : late;
      this.foundBlock(this.lastBeat, now, late, ranMs, ranInBlock(ranMs, active, late));
    }
    this.beatCpu = cpu;
    this.beatElu = performance.eventLoopUtilization();
    this.lastBeat = performance.now();
    if (this.watching) this.scheduleBeat();
  }

  /**
   * @param ranMs CPU time over the detection window (for the block's busyShare).
   * @param ranIn estimated CPU time within the block itself.
   */
  private foundBlock(
    fromMs: number,
    toMs: number,
    late: number,
    ranMs: number,
    ranIn: number,
  ): void {
    this.onBlock(fromMs, toMs, late, ranMs);
    this.lastBlockAt = toMs;
    // The first block goes without a stack (and route); the ones that recur get theirs. Only
    // a block the thread ran through counts: on a busy machine a thread that was not scheduled
    // for a while looks blocked too.
    if (ranIn >= late / 4) {
      if (!this.profiler && this.options.profileBlocks === 'after-block') this.startProfiler();
      if (this.options.routes === 'after-block') this.watchRoutes();
    }
    this.updateWatching();
  }

  private roll(): CpuProfile | null {
    const profile = this.profiler?.roll() ?? null;
    this.lastRoll = performance.now();
    if (profile) {
      this.merger?.add(profile);
      const { samples, idle } = this.hot.add(profile);
      this.profSamples += samples;
      this.profIdle += idle;
      this.totalProfSamples += samples;
      this.totalProfIdle += idle;
    }
    return profile;
  }

  private onBlock(fromMs: number, toMs: number, late: number, ranMs: number): void {
    // performance.now() and V8 profile times share the monotonic clock; only the origin differs.
    const originUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
    let duration = late;
    let startPerf = toMs - late;
    let stack: Block['stack'] = [];
    let samples = 0;
    let share = 0;
    let busyShare = 1;
    const profile = this.profiler ? this.roll() : null;
    if (profile) {
      const a = attribute(profile, fromMs * 1000 + originUs, toMs * 1000 + originUs);
      stack = a.stack;
      samples = a.samples;
      share = a.share;
      if (a.samples >= 3) {
        // Both the timer's lateness and the busy span in the profile are lower bounds of the
        // block (a starved sampler thread misses edge samples): take the larger.
        const span = (a.lastUs - a.firstUs) / 1000 + this.options.profilerInterval / 1000;
        if (span > duration && span <= toMs - fromMs) {
          duration = span;
          startPerf = (a.firstUs - originUs) / 1000;
        }
      }
      // Busy samples spread over the block mean code ran throughout, even if a loaded machine
      // let it run only now and then (its own slowness is still this code's block).
      const spread = a.samples >= 2 ? (a.lastUs - a.firstUs) / 1000 / duration : 0;
      busyShare = Math.min(
        1,
        Math.max(spread, (a.samples * this.options.profilerInterval) / 1000 / duration),
      );
    }
    // The process's CPU time over the block is the other witness that it ran (all threads: an
    // upper bound when other threads were busy too).
    busyShare = round(Math.max(profile ? busyShare : 0, Math.min(1, ranMs / Math.max(1, late))));
    // The request being handled when the loop blocked: the last one that started before the
    // block began, within a second (a handler usually runs right after its request's start is
    // published; with many requests in flight this is a best guess).
    let route: Block['route'];
    for (let i = this.requests.length - 1; i >= 0; i--) {
      const r = this.requests[i]!;
      if (r.at <= startPerf + 1 && r.at >= startPerf - 1000) {
        route = { method: r.method, path: r.path };
        break;
      }
    }
    const block: Block = {
      ...(route ? { route } : {}),
      start: Math.round(performance.timeOrigin + startPerf),
      duration: round(duration),
      stack,
      samples,
      share,
      busyShare,
    };
    this.blockCount++;
    if (late > this.intervalMaxLate) this.intervalMaxLate = late;
    this.blockedTime += block.duration;
    this.intervalBlockedTime += block.duration;
    this.blocksInterval.push(block);
    this.recentBlocks.push(block);
    if (this.recentBlocks.length > this.options.maxBlocks) this.recentBlocks.shift();
    this.emit('block', block);
  }

  private processStats(
    from: NodeJS.CpuUsage,
    elapsedMs: number,
    gc: { count: number; pauseMs: number; observed: number } | null,
  ): ProcessStats {
    const cpu = process.cpuUsage(from);
    const mem = process.memoryUsage();
    return {
      ...(gc
        ? {
            gc: {
              count: Math.round(gc.count),
              pauseMs: round(gc.pauseMs),
              share: round(Math.min(1, gc.pauseMs / Math.max(1, elapsedMs))),
              observed: round(gc.observed),
            },
          }
        : {}),
      cpu: {
        user: round(cpu.user / 1000),
        system: round(cpu.system / 1000),
        percent: round(((cpu.user + cpu.system) / 1000 / Math.max(1, elapsedMs)) * 100),
      },
      memory: {
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        heapTotal: mem.heapTotal,
        external: mem.external,
      },
    };
  }

  private loopDelta(from: LoopCounters | null): LoopCounters | null {
    const now = uvCounters();
    if (!now || !from) return now;
    return {
      loopCount: now.loopCount - from.loopCount,
      events: now.events - from.events,
      eventsWaiting: now.eventsWaiting - from.eventsWaiting,
    };
  }

  /** Open a GC observation window. */
  private gcOn(now: number): void {
    this.gcProfiler = new GCProfiler();
    this.gcProfiler.start();
    this.gcOnAt = this.gcDrainedAt = now;
  }

  /**
   * Open and close the observation windows (from the block check's timer): GC_WINDOW_MS in
   * every GC_WINDOW_MS / gcDutyCycle. With a duty cycle of 1 the profiler never stops.
   */
  private gcTick(now: number): void {
    const duty = this.options.gcDutyCycle;
    if (duty >= 1) return;
    if (this.gcProfiler) {
      if (now - this.gcOnAt >= GC_WINDOW_MS - CHECK_EVERY_MS / 2) {
        this.drainGc(false);
        const w = this.gcWindowAcc;
        if (w.observedMs > 0) {
          this.gcRate = { count: w.count / w.observedMs, pauseMs: w.pauseMs / w.observedMs };
        }
        this.gcWindowAcc = { count: 0, pauseMs: 0, observedMs: 0 };
      }
    } else if (now - this.gcOnAt >= GC_WINDOW_MS / duty - CHECK_EVERY_MS / 2) {
      this.gcOn(now);
    }
  }

  /**
   * Count the collections the GC profiler noted since the last drain, and the time it watched.
   * @param keep start the next profiler (the window goes on); false closes the window.
   */
  private drainGc(keep = true): void {
    const old = this.gcProfiler;
    if (!old) return;
    // The next profiler starts first, so a collection while the old one's data is read counts.
    let next: GCProfiler | null = null;
    if (keep) {
      next = new GCProfiler();
      next.start();
    }
    const now = performance.now();
    const data = old.stop() as { statistics?: { cost: number }[] } | undefined;
    this.gcProfiler = next;
    const observedMs = now - this.gcDrainedAt;
    this.gcDrainedAt = now;
    let count = 0;
    let pauseMs = 0;
    for (const s of data?.statistics ?? []) {
      count++;
      pauseMs += s.cost / 1000;
    }
    for (const acc of [this.gcInterval, this.gcTotal, this.gcWindowAcc]) {
      acc.count += count;
      acc.pauseMs += pauseMs;
      acc.observedMs += observedMs;
    }
  }

  /**
   * GC over a period of `elapsedMs` from what was observed in it: exact when it was observed
   * throughout; else the observed part scaled up to the whole period; and for a sample
   * interval that a window covered less than a quarter of, what was observed plus the rest at
   * the rates of the last window.
   */
  private gcEstimate(
    observed: { count: number; pauseMs: number; observedMs: number },
    elapsedMs: number,
    interval: boolean,
  ): { count: number; pauseMs: number; observed: number } {
    const share = Math.min(1, observed.observedMs / Math.max(1, elapsedMs));
    // Observed throughout (the window's clock and the period's differ by a few ms).
    if (this.options.gcDutyCycle >= 1 || share >= 0.98) {
      return { count: observed.count, pauseMs: observed.pauseMs, observed: 1 };
    }
    if (observed.observedMs > 0 && (!interval || share >= 0.25)) {
      return {
        count: observed.count / share,
        pauseMs: observed.pauseMs / share,
        observed: share,
      };
    }
    const rest = Math.max(0, elapsedMs - observed.observedMs);
    return {
      count: observed.count + this.gcRate.count * rest,
      pauseMs: observed.pauseMs + this.gcRate.pauseMs * rest,
      observed: share,
    };
  }

  private takeSample(): Sample {
    this.lastSampleAt = performance.now();
    // Blocks that ended before this sample belong to it.
    if (!this.watching) this.check();
    this.drainGc();
    const end = Date.now();
    const delay = delayStats(this.eld!, this.resolution, this.intervalMaxLate);
    this.eld!.reset();
    this.intervalMaxLate = 0;
    const elu = performance.eventLoopUtilization();
    let utilization = performance.eventLoopUtilization(elu, this.eluLast!).utilization;
    this.eluLast = elu;
    if (this.profiler) this.roll();
    if (this.profSamples > 0)
      utilization = this.profilerUtilization(this.profSamples, this.profIdle);
    this.profSamples = this.profIdle = 0;
    const eventLoop: EventLoopStats = {
      delay,
      utilization: round(utilization),
      blockCount: this.blocksInterval.length,
      blockedTime: round(this.intervalBlockedTime),
      blocks: this.blocksInterval,
      loop: this.loopDelta(this.uvLast),
    };
    this.uvLast = uvCounters();
    this.blocksInterval = [];
    this.intervalBlockedTime = 0;
    const proc = this.processStats(
      this.cpuLast!,
      end - this.intervalStart,
      this.options.gc ? this.gcEstimate(this.gcInterval, end - this.intervalStart, true) : null,
    );
    this.gcInterval = { count: 0, pauseMs: 0, observedMs: 0 };
    this.cpuLast = process.cpuUsage();
    const sample: Sample = {
      start: this.intervalStart,
      end,
      duration: end - this.intervalStart,
      eventLoop,
      threadpool: this.tracker ? this.tracker.sample() : disabledThreadpoolStats(),
      process: proc,
      pools: this.poolWatcher?.sample(end) ?? [],
    };
    this.intervalStart = end;
    this.lastSample = sample;
    this.samples.push(sample);
    if (this.samples.length > this.options.maxSamples) this.samples.shift();
    this.emit('sample', sample);
    return sample;
  }

  /**
   * While V8's profiler runs, its SIGPROF signals interrupt epoll_wait and libuv stops counting
   * the rest of the wait as idle, so ELU reads far too high (about 0.7 for an idle app). The
   * profiler's own samples tell idle from busy, so utilization comes from them instead.
   */
  private profilerUtilization(samples: number, idle: number): number {
    return 1 - idle / samples;
  }

  private sinceStart(): Sample {
    this.drainGc();
    const end = Date.now();
    const utilization =
      this.totalProfSamples > 0
        ? this.profilerUtilization(this.totalProfSamples, this.totalProfIdle)
        : performance.eventLoopUtilization(performance.eventLoopUtilization(), this.eluStart!)
            .utilization;
    return {
      start: this.startedAt,
      end,
      duration: end - this.startedAt,
      eventLoop: {
        delay: delayStats(this.total!, this.resolution),
        utilization: round(utilization),
        blockCount: this.blockCount,
        blockedTime: round(this.blockedTime),
        blocks: [...this.recentBlocks],
        loop: this.loopDelta(this.uvStart),
      },
      threadpool: this.tracker ? this.tracker.sinceStart() : disabledThreadpoolStats(),
      process: {
        ...this.processStats(
          this.cpuStart!,
          end - this.startedAt,
          this.options.gc ? this.gcEstimate(this.gcTotal, end - this.startedAt, false) : null,
        ),
        heapUsedAtStart: this.heapAtStart,
      },
      pools: this.poolWatcher?.sinceStart() ?? [],
    };
  }

  snapshot(): Snapshot {
    if (this.frozen) return this.frozen;
    if (!this.started) {
      throw new DiagnosticsError(
        DiagnosticsErrorCode.NOT_STARTED,
        'snapshot() was called before start(); call monitor.start() first',
      );
    }
    return {
      startedAt: this.startedAt,
      time: Date.now(),
      interval: this.lastSample,
      sinceStart: this.sinceStart(),
      profile: this.hot.stats(this.options.profileBlocks !== false),
    };
  }

  history(): Sample[] {
    return [...this.samples];
  }

  cpuProfile(): MergedProfile | null {
    if (!this.merger) return null;
    // Profile times are µs on the monotonic clock that performance.now() reads.
    const originUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
    return this.merger.result(performance.timeOrigin - originUs / 1000);
  }

  stop(): this {
    if (!this.active) return this;
    // Close the open interval so its data is not lost, then freeze the totals.
    if (Date.now() - this.intervalStart >= Math.min(250, this.options.sampleInterval)) {
      this.takeSample();
    }
    this.stopProfiler();
    const snap = this.snapshot();
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    if (this.beatTimer) clearTimeout(this.beatTimer);
    this.sampleTimer = this.checkTimer = this.beatTimer = null;
    this.watching = false;
    this.stopHistograms();
    this.tracker?.stop();
    this.tracker = null;
    this.poolWatcher?.stop();
    this.poolWatcher = null;
    this.drainGc();
    this.gcProfiler?.stop();
    this.gcProfiler = null;
    this.unwatchRoutes();
    this.active = false;
    this.frozen = snap;
    return this;
  }
}

/**
 * Create an event-loop and thread-pool monitor for the current thread. It does nothing until
 * `start()`; all its timers are unref'd, so it never keeps a process alive.
 *
 * @param options See {@link MonitorOptions}; every field is optional.
 * @throws {TypeError|RangeError} When an option has the wrong type or range, naming it.
 * @example
 * const monitor = createMonitor({ blockThreshold: 50 }).start();
 * monitor.on('block', (b) => console.warn(`blocked ${b.duration} ms in`, b.stack[0]));
 */
export function createMonitor(options: MonitorOptions = {}): Monitor {
  return new MonitorImpl(options);
}
