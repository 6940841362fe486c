import { availableParallelism, cpus } from 'node:os';
import { loadBuiltin } from './builtin.js';
import { type CpuProfile, HotFunctionTable } from './profiler.js';
import { round } from './stats.js';
import type { PoolSample } from './types.js';

/** The part of an @offthread/core `Pool` this module reads (core's `ObservablePool`). */
interface ObservedPool {
  readonly options?: { readonly name?: string; readonly maxThreads?: number };
  stats(): {
    name: string;
    threads: number;
    busy: number;
    queued: number;
    running: number;
    completed: number;
    failed: number;
    runTime: { p50: number; p99: number; max: number };
    waitTime: { p50: number; p99: number; max: number };
  };
}
interface ObservedWorker {
  threadId: number;
  performance: { eventLoopUtilization(a?: unknown, b?: unknown): EluLike };
}
interface EluLike {
  idle: number;
  active: number;
  utilization: number;
}

const kLivePools = Symbol.for('offthread.pools.live');
const kPoolWorkers = Symbol.for('offthread.pool.workers');

/**
 * The live @offthread/core pools of this process, read from core's registry on `globalThis`
 * (so this package never imports core). Undefined or empty when the app has no pool.
 */
export function livePools(): Set<ObservedPool> | undefined {
  return (globalThis as unknown as Record<symbol, Set<ObservedPool> | undefined>)[kLivePools];
}

function workersOf(pool: ObservedPool): ObservedWorker[] {
  const list = (pool as unknown as Record<symbol, (() => ObservedWorker[]) | undefined>)[
    kPoolWorkers
  ];
  if (typeof list !== 'function') return [];
  try {
    return list.call(pool);
  } catch {
    return [];
  }
}

interface PoolState {
  name: string;
  lastDone: number;
  firstDone: number;
  firstAt: number;
  lastAt: number;
  elu: WeakMap<object, EluLike>;
  peakQueued: number;
  peakQueuedTotal: number;
  busySum: number;
  busyCount: number;
  saturatedSamples: number;
  samples: number;
  maxThreads: number;
  hot: HotFunctionTable;
  last: PoolSample | null;
}

const cores = () =>
  typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;

/**
 * Watches the @offthread/core pools of this process: per pool, threads, busy share (ELU of each
 * thread), queue length and wait percentiles, tasks/s, and (with `profile`) the task functions
 * hot in the pool threads. Costs nothing while the process has no pool: one property read of
 * `globalThis` per sample.
 */
export class PoolWatcher {
  private states = new Map<ObservedPool, PoolState>();
  private profiler: PoolProfiler | null = null;
  private watching = false;
  private restoreAdd: (() => void) | null = null;

  constructor(
    private readonly profile: boolean,
    private readonly profilerIntervalUs: number,
  ) {}

  /**
   * Start watching for pools now: with `profile`, a pool created later gets its threads
   * profiled from their first task (see {@link PoolProfiler}). Core creates its registry Set
   * only if none exists, so the Set made here is the one core fills.
   */
  start(): void {
    if (!this.profile) return;
    const store = globalThis as unknown as Record<symbol, Set<ObservedPool> | undefined>;
    let pools = store[kLivePools];
    if (!pools) {
      pools = new Set();
      store[kLivePools] = pools;
    }
    if (pools.size > 0) this.profiler ??= new PoolProfiler(this.profilerIntervalUs);
    const set = pools;
    const add = set.add;
    const self = this;
    // Learn about a new pool when it registers, not a sample later.
    set.add = function (this: Set<ObservedPool>, pool: ObservedPool) {
      if (self.watching) self.profiler ??= new PoolProfiler(self.profilerIntervalUs);
      return add.call(this, pool);
    };
    this.restoreAdd = () => {
      if (set.add !== add) set.add = add;
    };
    this.watching = true;
  }

  /** Per pool, the interval since the last call. */
  sample(now = Date.now()): PoolSample[] {
    const pools = livePools();
    if (!pools || pools.size === 0) {
      this.profiler?.sync([]);
      return [];
    }
    // Busy share per thread from the threads' own profiles (idle vs not), when they are
    // profiled: a profiled thread's ELU reads too high (the profiler's signals cut its idle waits
    // short), as on the main thread. One interval late: profiles arrive after each roll.
    const profBusy = new Map<number, number>();
    if (this.profiler) {
      for (const [pool, profiles] of this.profiler.drain()) {
        const st = this.states.get(pool);
        for (const { threadId, profile } of profiles) {
          const { samples, idle } = st ? st.hot.add(profile) : { samples: 0, idle: 0 };
          if (samples > 0) profBusy.set(threadId, 1 - idle / samples);
        }
      }
    }
    const out: PoolSample[] = [];
    const seen: ObservedPool[] = [];
    for (const pool of pools) {
      let stats: ReturnType<ObservedPool['stats']>;
      try {
        stats = pool.stats();
      } catch {
        continue;
      }
      seen.push(pool);
      const done = stats.completed + stats.failed;
      let st = this.states.get(pool);
      if (!st) {
        st = {
          name: stats.name,
          lastDone: done,
          firstDone: done,
          firstAt: now,
          lastAt: now,
          elu: new WeakMap(),
          peakQueued: 0,
          peakQueuedTotal: 0,
          busySum: 0,
          busyCount: 0,
          saturatedSamples: 0,
          samples: 0,
          maxThreads: Number(pool.options?.maxThreads) || stats.threads,
          hot: new HotFunctionTable(),
          last: null,
        };
        this.states.set(pool, st);
      }
      const workers = workersOf(pool);
      const perThread: number[] = [];
      for (const w of workers) {
        try {
          const cur = w.performance.eventLoopUtilization();
          const prev = st.elu.get(w);
          st.elu.set(w, cur);
          const elu = prev
            ? w.performance.eventLoopUtilization(cur, prev).utilization
            : cur.utilization;
          perThread.push(round(profBusy.get(w.threadId) ?? elu));
        } catch {}
      }
      const busyShare = perThread.length
        ? round(perThread.reduce((a, b) => a + b, 0) / perThread.length)
        : 0;
      const seconds = Math.max(0.001, (now - st.lastAt) / 1000);
      const sample: PoolSample = {
        name: stats.name,
        threads: stats.threads,
        maxThreads: st.maxThreads,
        busyShare,
        threadBusy: perThread,
        queued: stats.queued,
        running: stats.running,
        tasksPerSecond: round((done - st.lastDone) / seconds),
        completed: stats.completed,
        failed: stats.failed,
        wait: { p50: stats.waitTime.p50, p99: stats.waitTime.p99, max: stats.waitTime.max },
        run: { p50: stats.runTime.p50, p99: stats.runTime.p99, max: stats.runTime.max },
        hotFunctions: [],
      };
      st.lastDone = done;
      st.lastAt = now;
      st.samples++;
      st.busySum += busyShare;
      st.busyCount++;
      if (busyShare >= 0.85 && stats.queued > 0) st.saturatedSamples++;
      st.peakQueuedTotal = Math.max(st.peakQueuedTotal, stats.queued);
      st.last = sample;
      out.push(sample);
    }
    if (this.profile) {
      this.profiler ??= new PoolProfiler(this.profilerIntervalUs);
      // Roll every thread's profile; what they saw arrives before the next sample.
      this.profiler.sync(seen.flatMap((p) => workersOf(p).map((w) => ({ pool: p, worker: w }))));
    }
    for (const st of this.states.values()) {
      if (st.last && out.includes(st.last)) {
        st.last.hotFunctions = st.hot.stats(this.profile, 5).hotFunctions;
      }
    }
    return out;
  }

  /** Per pool seen (closed ones included), since the first sample: rates and peaks of the run. */
  sinceStart(): PoolSample[] {
    const out: PoolSample[] = [];
    for (const st of this.states.values()) {
      if (!st.last) continue;
      const seconds = Math.max(0.001, (st.lastAt - st.firstAt) / 1000);
      out.push({
        ...st.last,
        busyShare: st.busyCount ? round(st.busySum / st.busyCount) : st.last.busyShare,
        queued: st.peakQueuedTotal,
        tasksPerSecond: round((st.lastDone - st.firstDone) / seconds),
        hotFunctions: st.hot.stats(this.profile, 5).hotFunctions,
        saturatedShare: st.samples ? round(st.saturatedSamples / st.samples) : 0,
      });
    }
    return out;
  }

  stop(): void {
    this.watching = false;
    // Leave the Set's own add() in place when nothing replaced ours since.
    this.restoreAdd?.();
    this.restoreAdd = null;
    this.profiler?.stop();
    this.profiler = null;
  }
}

/** Pool advice for the verdict. */
export function poolAdvice(p: PoolSample): string {
  const n = cores();
  if (p.threads < n && p.maxThreads < n) {
    return `Raise maxThreads of pool "${p.name}" (now ${p.maxThreads}; this machine has ${n} cores), or make each task cheaper or smaller so the queue drains.`;
  }
  return `Pool "${p.name}" already has ${p.threads} threads for ${n} cores: more threads will not help, the work exceeds the CPU. Make tasks cheaper or smaller (split big ones), shed load (underPressure()/queueTimeout), or run the work on more machines with a remote pool (@offthread/bullmq).`;
}

interface InspectorSession {
  connect(): void;
  disconnect(): void;
  post(method: string, params?: object, cb?: (err: Error | null, res?: any) => void): void;
  on(event: string, listener: (message: { params: any }) => void): void;
}

/**
 * CPU profiles of pool threads, with no code in the threads: the main thread's inspector session
 * attaches to each worker (NodeWorker domain, Node 20+) and drives its Profiler. Each sample the
 * running profile is stopped and the next one started, so hot task functions accumulate.
 */
class PoolProfiler {
  private session: InspectorSession | null = null;
  private attached = new Map<number, string>(); // threadId -> sessionId
  private byThread = new Map<number, ObservedPool>();
  private profiling = new Set<number>();
  private nextId = 1;
  private pending = new Map<string, Map<number, (result: any) => void>>();
  private done = new Map<ObservedPool, { threadId: number; profile: CpuProfile }[]>();

  constructor(private readonly intervalUs: number) {
    try {
      const inspector = loadBuiltin('node:inspector') as {
        Session: new () => InspectorSession;
      } | null;
      if (!inspector) return;
      const s = new inspector.Session();
      s.connect();
      s.on('NodeWorker.attachedToWorker', (m) => this.onAttached(m.params));
      s.on('NodeWorker.detachedFromWorker', (m) => {
        for (const [t, sid] of this.attached) {
          if (sid === m.params.sessionId) {
            this.attached.delete(t);
            this.profiling.delete(t);
          }
        }
        this.pending.delete(m.params.sessionId);
      });
      s.on('NodeWorker.receivedMessageFromWorker', (m) => this.onMessage(m.params));
      s.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
      this.session = s;
    } catch {
      this.session = null;
    }
  }

  private send(sessionId: string, method: string, params: object = {}): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      let map = this.pending.get(sessionId);
      if (!map) {
        map = new Map();
        this.pending.set(sessionId, map);
      }
      map.set(id, resolve);
      this.session?.post('NodeWorker.sendMessageToWorker', {
        sessionId,
        message: JSON.stringify({ id, method, params }),
      });
    });
  }

  private onMessage(p: { sessionId: string; message: string }): void {
    let msg: { id?: number; result?: any };
    try {
      msg = JSON.parse(p.message);
    } catch {
      return;
    }
    if (msg.id === undefined) return;
    const map = this.pending.get(p.sessionId);
    const resolve = map?.get(msg.id);
    if (resolve) {
      map!.delete(msg.id);
      resolve(msg.result ?? null);
    }
  }

  private onAttached(p: { sessionId: string; workerInfo: { workerId: string } }): void {
    const threadId = Number(p.workerInfo.workerId);
    this.attached.set(threadId, p.sessionId);
    // Only pool threads are profiled; other workers of the app are left alone. Start as soon as
    // the thread is known: V8 names functions inlined before the profiler started after their
    // caller, so a late start would blame the pool's dispatch code.
    if (!this.byThread.has(threadId)) {
      for (const pool of livePools() ?? []) {
        for (const w of workersOf(pool)) this.byThread.set(w.threadId, pool);
      }
    }
    if (this.byThread.has(threadId)) this.startProfiling(threadId);
  }

  private startProfiling(threadId: number): void {
    const sid = this.attached.get(threadId);
    if (!sid || this.profiling.has(threadId)) return;
    this.profiling.add(threadId);
    void this.send(sid, 'Profiler.enable')
      .then(() => this.send(sid, 'Profiler.setSamplingInterval', { interval: this.intervalUs }))
      .then(() => this.send(sid, 'Profiler.start'));
  }

  /** Keep the set of profiled threads equal to the pools' live threads; roll each profile. */
  sync(threads: { pool: ObservedPool; worker: ObservedWorker }[]): void {
    if (!this.session) return;
    this.byThread.clear();
    for (const t of threads) this.byThread.set(t.worker.threadId, t.pool);
    for (const threadId of this.profiling) {
      const sid = this.attached.get(threadId);
      const pool = this.byThread.get(threadId);
      if (!sid || !pool) {
        this.profiling.delete(threadId);
        continue;
      }
      void this.send(sid, 'Profiler.stop').then((r) => {
        if (r?.profile) {
          const list = this.done.get(pool) ?? [];
          list.push({ threadId, profile: r.profile as CpuProfile });
          this.done.set(pool, list);
        }
        return this.send(sid, 'Profiler.start');
      });
    }
    for (const threadId of this.byThread.keys()) this.startProfiling(threadId);
  }

  /** Profiles that finished since the last call, by pool. */
  drain(): Map<ObservedPool, { threadId: number; profile: CpuProfile }[]> {
    const d = this.done;
    this.done = new Map();
    return d;
  }

  stop(): void {
    try {
      this.session?.post('NodeWorker.disable');
      this.session?.disconnect();
    } catch {}
    this.session = null;
  }
}
