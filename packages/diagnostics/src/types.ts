/** One frame of a JavaScript stack, top of stack first in arrays. */
export interface StackFrame {
  /** Function name, or `(anonymous)`. */
  functionName: string;
  /** Script URL as V8 reports it (`file:///...`, `node:...`, or empty for native code). */
  url: string;
  /** File path when the URL is a `file:` URL or a path, else the URL. */
  file: string;
  /** 1-based line. 0 when unknown. */
  line: number;
  /** 1-based column. 0 when unknown. */
  column: number;
}

/** An event-loop block: a stall longer than `blockThreshold`. */
export interface Block {
  /** When the block started, epoch ms (estimated from the profile, else from the timer). */
  start: number;
  /** How long the loop was blocked, in ms. */
  duration: number;
  /** The stack that ran most during the block, top frame first; empty without the profiler. */
  stack: StackFrame[];
  /** Profiler samples that fell inside the block (0 without the profiler). */
  samples: number;
  /** Share (0..1) of the block's samples whose top user frame is `stack[0]`. */
  share: number;
  /**
   * Share (0..1) of the block during which the process ran: the larger of the profiler's busy
   * samples and the process's CPU time over the block (its sampling thread can starve on a busy
   * machine too). Low values mean the thread was not running at all (descheduled by a busy
   * machine), so no code of the app is to blame.
   */
  busyShare: number;
  /**
   * The HTTP request being handled when the loop blocked (from Node's `http.server.request.start`
   * diagnostics channel): method and path, query dropped. Absent when no request was.
   */
  route?: { method: string; path: string };
}

/** Event-loop delay distribution in ms (the timer lateness, resolution subtracted). */
export interface DelayStats {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Number of timer measurements behind these numbers. */
  count: number;
}

/** libuv loop counters from `performance.nodeTiming.uvMetricsInfo`, where Node has them. */
export interface LoopCounters {
  /** Loop iterations in the period. */
  loopCount: number;
  /** Events processed in the period. */
  events: number;
  /** Events that were waiting when the provider polled, in the period. */
  eventsWaiting: number;
}

export interface EventLoopStats {
  delay: DelayStats;
  /** Event-loop utilization (0..1) over the period: the share of time the loop was not idle. */
  utilization: number;
  /** Number of blocks in the period. */
  blockCount: number;
  /** Sum of block durations in the period, ms. */
  blockedTime: number;
  /** Blocks in the period (for `sinceStart`: the most recent `maxBlocks`). */
  blocks: Block[];
  /** libuv counters, or null on Node versions without `uvMetricsInfo`. */
  loop: LoopCounters | null;
}

/** Counts of thread-pool requests by kind. */
export interface ThreadpoolCounts {
  total: number;
  fs: number;
  dns: number;
  crypto: number;
  zlib: number;
  other: number;
}

/** Wait distribution in ms. */
export interface WaitStats {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

export interface ThreadpoolStats {
  /** Whether thread-pool tracking is on (all numbers are 0 when it is off). */
  enabled: boolean;
  /**
   * Whether each request was being counted with async_hooks at the end of the period. With
   * `threadpoolCounting: 'on-queueing'` (the default) counting is on only while a queue is seen;
   * otherwise only the canary and sampled in-flight counts feed these numbers.
   */
  counting: boolean;
  /** Effective UV_THREADPOOL_SIZE (libuv default 4, clamped to 1..1024). */
  size: number;
  /** Requests submitted and not yet completed (running + queued), at the end of the period. */
  inFlight: ThreadpoolCounts;
  /** Requests waiting for a free thread, at the end of the period. */
  queued: ThreadpoolCounts;
  /** Highest in-flight and queued counts seen during the period. */
  peak: { inFlight: number; queued: number };
  /** Requests completed in the period. */
  completed: number;
  /** Time requests waited for a thread (FIFO model over the counted requests), ms. */
  wait: WaitStats;
  /** Round trip of the 1-byte canary request, ms: queue wait of any thread-pool work, plus callback delay. */
  probe: WaitStats;
  /** Share of the period (0..1) during which every thread was busy with counted requests. */
  saturation: number;
  /** Mean share of threads busy (0..1). */
  utilization: number;
  /** Suggested UV_THREADPOOL_SIZE. */
  recommendedSize: number;
  /** Why `recommendedSize` is what it is. */
  reason: string;
}

export interface ProcessStats {
  /** CPU time over the period, ms, and as % of one core. */
  cpu: { user: number; system: number; percent: number };
  /** Memory at the end of the period, bytes. */
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number };
  /**
   * Garbage-collection pauses of this thread over the period (from V8's `GCProfiler`): how
   * many, their total length (ms) and their share of the period (0..1). Absent with
   * `gc: false` and in older reports. With `gcDutyCycle` < 1 they are estimates, scaled up
   * from the part of the period that was observed, `observed` (0..1; 1: every collection;
   * absent in older reports).
   */
  gc?: { count: number; pauseMs: number; share: number; observed?: number };
  /** `sinceStart` only: heap used when the monitor started, bytes. */
  heapUsedAtStart?: number;
}

/** A user function that was on top of the (user part of the) stack in CPU samples. */
export interface HotFunction {
  frame: StackFrame;
  /** Samples with this function as top user frame. */
  samples: number;
  /** Share (0..1) of all busy (non-idle) samples. */
  share: number;
}

/** Where the main thread's CPU time went, from the rolling CPU profile. */
export interface ProfileStats {
  /** Whether the profiler ran. */
  enabled: boolean;
  /** All samples. */
  samples: number;
  /** Samples when JS or GC ran (not idle/program). */
  busySamples: number;
  /** Busy samples with a user frame (not node: internals, not node_modules) on the stack. */
  userSamples: number;
  /** Top user functions. */
  hotFunctions: HotFunction[];
}

/** Measurements over one period (a sample interval, or since start). */
export interface Sample {
  /** Period start and end, epoch ms. */
  start: number;
  end: number;
  /** Length of the period, ms. */
  duration: number;
  eventLoop: EventLoopStats;
  threadpool: ThreadpoolStats;
  process: ProcessStats;
  /**
   * The @offthread/core pools of this process (found through core's registry on `globalThis`),
   * one entry per pool; empty when there is none. Optional: reports from older versions lack it.
   */
  pools?: PoolSample[];
}

/** One @offthread/core pool over a sample interval (or, in `sinceStart`, the whole run). */
export interface PoolSample {
  /** The pool's `name` option. */
  name: string;
  /** Threads alive at the end of the period. */
  threads: number;
  /** The pool's `maxThreads`. */
  maxThreads: number;
  /** Mean event-loop utilization of the pool's threads over the period (0..1): busy share. */
  busyShare: number;
  /** Busy share of each thread. */
  threadBusy: number[];
  /** Tasks waiting for a thread at the end of the period (in `sinceStart`: the most seen). */
  queued: number;
  /** Tasks running at the end of the period. */
  running: number;
  /** Tasks finished (resolved or rejected) per second over the period. */
  tasksPerSecond: number;
  /** Tasks resolved and rejected since the pool started. */
  completed: number;
  failed: number;
  /** Time tasks waited for a thread, ms (the pool's window of recent tasks). */
  wait: { p50: number; p99: number; max: number };
  /** Time in the task function, ms (the pool's window of recent tasks). */
  run: { p50: number; p99: number; max: number };
  /** Task functions hot in the pool's threads (CPU profile of the threads), since start. */
  hotFunctions: HotFunction[];
  /** `sinceStart` only: share of samples with every thread busy and tasks queued (0..1). */
  saturatedShare?: number;
}

/** What {@link Monitor.snapshot} returns. */
export interface Snapshot {
  /** Epoch ms when the monitor started. */
  startedAt: number;
  /** Epoch ms of this snapshot. */
  time: number;
  /** The last completed sample interval, or null before the first one. */
  interval: Sample | null;
  /** Everything since `start()`. */
  sinceStart: Sample;
  /** CPU profile summary since start. */
  profile: ProfileStats;
}
