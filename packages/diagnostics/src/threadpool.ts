import { createHook } from 'node:async_hooks';
import { randomFill } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Reservoir, round } from './stats.js';
import type { ThreadpoolCounts, ThreadpoolStats } from './types.js';

type Kind = 'fs' | 'dns' | 'crypto' | 'zlib' | 'other';

/**
 * async_hooks resource types that are one libuv thread-pool request each. Crypto jobs all end
 * in REQUEST; the ones below that do not use the pool are excluded.
 */
const FIXED: Record<string, Kind> = {
  FSREQCALLBACK: 'fs',
  FSREQPROMISE: 'fs',
  GETADDRINFOREQWRAP: 'dns',
  GETNAMEINFOREQWRAP: 'dns',
};
const NOT_POOL = new Set(['HTTPCLIENTREQUEST', 'HTTPINCOMINGMESSAGE']);

export function kindOf(type: string): Kind | null {
  const fixed = FIXED[type];
  if (fixed) return fixed;
  if (type === 'ZLIB') return 'zlib';
  if (type.endsWith('REQUEST') && !NOT_POOL.has(type)) return 'crypto';
  return null;
}

/** Effective pool size: libuv reads UV_THREADPOOL_SIZE once, default 4, clamped to 1..1024. */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  if (!Number.isFinite(n) || n <= 0) return 4;
  return Math.min(1024, n);
}

interface Req {
  id: number;
  kind: Kind;
  submitted: number;
  running: boolean;
  done: boolean;
}

const emptyCounts = (): ThreadpoolCounts => ({
  total: 0,
  fs: 0,
  dns: 0,
  crypto: 0,
  zlib: 0,
  other: 0,
});

/** Per-period accumulators. */
class Period {
  wait = new Reservoir();
  probe = new Reservoir();
  completed = 0;
  saturatedMs = 0;
  busyThreadMs = 0;
  peakInFlight = 0;
  peakQueued = 0;
  start = performance.now();
}

/** Resource names in `process.getActiveResourcesInfo()` that are thread-pool requests. */
const ACTIVE_POOL_REQS = new Set([
  'FSReqCallback',
  'FSReqPromise',
  'GetAddrInfoReqWrap',
  'GetNameInfoReqWrap',
]);

/** When counting with async_hooks is on. */
export type ThreadpoolCounting = 'always' | 'on-queueing';

/** How long counting stays on after the last sign of queueing, ms. */
const COUNTING_HOLD_MS = 10_000;
/** A canary that waited this long (ms) beyond the event loop's own lateness means a queue. */
const CANARY_QUEUE_MS = 10;
/** Canary period while the pool looks unused, ms (or the probe interval, if longer). */
const IDLE_PROBE_EVERY_MS = 1000;
/** How many canaries in a row must wait that long before counting switches on. */
const CANARY_WAITS = 3;

/**
 * Counts thread-pool requests made from this thread with async_hooks (init on submit, before on
 * completion), and models the pool as `size` threads serving a FIFO queue, which is what libuv
 * does. From that it derives queue wait per request and the share of time all threads were busy.
 * A canary (crypto.randomFill of 1 byte) measures the real queue, including work this thread
 * cannot see (worker threads, native addons).
 *
 * async_hooks cost CPU on every async resource (promises included on Node 20), so with
 * `counting: 'on-queueing'` they are only on while there is something to count: the canary
 * (sent every probe interval while the pool is in use, else once a second) and a cheap look at `process.getActiveResourcesInfo()` watch for
 * a queue, and counting switches on when one shows, and off again 10 s after the last one (three waiting canaries in a row switch it on).
 */
export class ThreadpoolTracker {
  readonly size = threadpoolSize();
  private reqs = new Map<number, Req>();
  private waiting: Req[] = [];
  private running = 0;
  /** Crypto jobs whose sync/async mode is not known yet (sync jobs never complete via hooks). */
  private unverified: { req: Req; resource: any }[] = [];
  private zlibPending = new Set<number>();
  private lastChange = performance.now();
  private interval = new Period();
  private total = new Period();
  private peakDemand = 0;
  private probing = false;
  private probeInFlight = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private probeBuf = Buffer.alloc(1);
  private hook: ReturnType<typeof createHook> | null = null;
  private counting = false;
  private canaryWaits = 0;
  /** When the first canary of the current run of waiting canaries was sent. */
  private waitRunStart = 0;
  private lastTick = 0;
  /** Ticks since the last canary (starts high: the first tick sends one). */
  private idleTicks = Number.MAX_SAFE_INTEGER - 1;
  private countingUntil = 0;
  private sampledPeakInterval = 0;
  private sampledPeakTotal = 0;

  /**
   * @param probeInterval ms between canary requests (0: no canary).
   * @param countingMode when async_hooks counting is on.
   * @param loopLateness cumulative event-loop lateness (ms) the caller measured, so a canary
   *   delayed by a busy loop rather than by the pool does not count as queueing.
   */
  constructor(
    private readonly probeInterval: number,
    private readonly countingMode: ThreadpoolCounting = 'always',
    private readonly loopLateness: () => number = () => 0,
  ) {}

  /** Whether async_hooks counting is on right now. */
  get countingActive(): boolean {
    return this.counting;
  }

  /** How often tick() should run, ms (0: never). */
  get period(): number {
    return this.probeInterval > 0 ? this.probeInterval : this.countingMode === 'always' ? 0 : 250;
  }

  /**
   * @param driven the caller calls {@link poll} at least every `period` ms from a timer of its
   *   own, so this tracker needs none (one wake-up fewer per period).
   */
  start(driven = false): void {
    if (this.countingMode === 'always') this.enableCounting();
    const every = this.period;
    if (every > 0) {
      if (!driven) {
        this.probeTimer = setInterval(() => this.tick(), every);
        this.probeTimer.unref();
      }
      this.tick();
    }
  }

  /** Run tick() if its period has (about) passed; for a caller that drives this tracker. */
  poll(now = performance.now()): void {
    const every = this.period;
    if (every > 0 && now - this.lastTick >= every * 0.9) this.tick();
  }

  private tick(): void {
    this.lastTick = performance.now();
    if (this.countingMode === 'always') {
      if (this.probeInterval > 0) this.sendProbe();
      return;
    }
    // Thread-pool requests this thread has in flight right now (fs and dns; crypto and zlib
    // jobs do not show here, the canary sees those).
    let n = 0;
    for (const name of process.getActiveResourcesInfo()) if (ACTIVE_POOL_REQS.has(name)) n++;
    if (this.probeInterval > 0) {
      // Every probe interval while the pool is in use (requests in flight, or the last canary
      // waited for a thread), else once a second: each canary wakes a pool thread and the
      // event loop, which in an idle app costs more than everything else the canary does.
      const inUse = n > 0 || this.counting || this.canaryWaits > 0;
      if (inUse || ++this.idleTicks >= Math.ceil(IDLE_PROBE_EVERY_MS / this.probeInterval)) {
        this.idleTicks = 0;
        this.sendProbe();
      }
    }
    if (n > this.sampledPeakInterval) this.sampledPeakInterval = n;
    if (n > this.sampledPeakTotal) this.sampledPeakTotal = n;
    // Many short requests in flight (8 concurrent fs.readFile on 4 threads) are not worth
    // counting: only a canary that waited switches counting on.
    if (this.counting && performance.now() > this.countingUntil) this.disableCounting();
  }

  private sawQueueing(): void {
    this.countingUntil = performance.now() + COUNTING_HOLD_MS;
    if (!this.counting) this.enableCounting();
  }

  private enableCounting(): void {
    const self = this;
    const hooks: Parameters<typeof createHook>[0] & { trackPromises?: boolean } = {
      init(id, type, _trigger, resource) {
        if (self.probing) return;
        const kind = kindOf(type);
        if (kind === null) return;
        self.flushUnverified();
        if (kind === 'zlib') return self.wrapZlib(id, resource);
        const req: Req = { id, kind, submitted: performance.now(), running: false, done: false };
        if (kind === 'crypto') self.unverified.push({ req, resource });
        else self.submit(req);
      },
      before(id) {
        if (self.unverified.length) self.flushUnverified();
        const req = self.reqs.get(id);
        if (req) self.complete(req);
      },
      // Node 24.9+ can skip promise hooks; Node 20 ignores this option.
      trackPromises: false,
    };
    this.hook = createHook(hooks);
    this.account(performance.now());
    this.counting = true;
    this.hook.enable();
  }

  private disableCounting(): void {
    this.hook?.disable();
    this.hook = null;
    this.account(performance.now());
    this.counting = false;
    // Completions are no longer seen: forget what is in flight so the model starts clean.
    this.reqs.clear();
    this.waiting = [];
    this.running = 0;
    this.unverified = [];
    this.zlibPending.clear();
  }

  stop(): void {
    if (this.counting) this.disableCounting();
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  private wrapZlib(id: number, handle: any): void {
    // One ZLIB handle serves a whole stream; each async write() is one pool request, completed by
    // the handle's callback (a `before` for the same id). Wrap the instance's write and close.
    const self = this;
    const write = handle?.write;
    if (typeof write !== 'function') return;
    handle.write = function (this: unknown, ...args: unknown[]) {
      if (self.counting && !self.zlibPending.has(id)) {
        self.zlibPending.add(id);
        self.submit({
          id,
          kind: 'zlib',
          submitted: performance.now(),
          running: false,
          done: false,
        });
      }
      return write.apply(this, args);
    };
    const close = handle.close;
    if (typeof close === 'function') {
      handle.close = function (this: unknown, ...args: unknown[]) {
        const req = self.reqs.get(id);
        if (req) self.complete(req);
        return close.apply(this, args);
      };
    }
  }

  private flushUnverified(): void {
    const list = this.unverified;
    if (list.length === 0) return;
    this.unverified = [];
    for (const { req, resource } of list) {
      // Async crypto jobs get `ondone` right after construction; sync ones (pbkdf2Sync) never do.
      if (typeof resource?.ondone === 'function') this.submit(req);
    }
  }

  private account(now: number): void {
    const dt = now - this.lastChange;
    if (dt > 0) {
      const busy = Math.min(this.running, this.size);
      for (const p of [this.interval, this.total]) {
        if (busy >= this.size) p.saturatedMs += dt;
        p.busyThreadMs += dt * busy;
      }
    }
    this.lastChange = now;
  }

  private submit(req: Req): void {
    const now = performance.now();
    this.account(now);
    this.reqs.set(req.id, req);
    if (this.running < this.size) {
      req.running = true;
      this.running++;
      this.recordWait(0);
    } else {
      this.waiting.push(req);
    }
    const inFlight = this.reqs.size;
    const queued = this.waiting.length;
    if (inFlight > this.peakDemand) this.peakDemand = inFlight;
    for (const p of [this.interval, this.total]) {
      if (inFlight > p.peakInFlight) p.peakInFlight = inFlight;
      if (queued > p.peakQueued) p.peakQueued = queued;
    }
  }

  private complete(req: Req): void {
    if (req.done) return;
    const now = performance.now();
    this.account(now);
    req.done = true;
    this.reqs.delete(req.id);
    if (req.kind === 'zlib') this.zlibPending.delete(req.id);
    this.interval.completed++;
    this.total.completed++;
    if (req.running) {
      this.running--;
    } else {
      // Completed while the model had it queued (work we cannot see changed the order):
      // count its whole latency as wait, an upper bound.
      const i = this.waiting.indexOf(req);
      if (i >= 0) this.waiting.splice(i, 1);
      this.recordWait(now - req.submitted);
    }
    while (this.running < this.size && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      next.running = true;
      this.running++;
      this.recordWait(now - next.submitted);
    }
  }

  private recordWait(ms: number): void {
    this.interval.wait.add(ms);
    this.total.wait.add(ms);
  }

  private sendProbe(): void {
    if (this.probeInFlight) return;
    this.probeInFlight = true;
    const t0 = performance.now();
    const late0 = this.loopLateness();
    this.probing = true;
    try {
      randomFill(this.probeBuf, () => {
        const ms = performance.now() - t0;
        this.probeInFlight = false;
        this.interval.probe.add(ms);
        this.total.probe.add(ms);
        // (The lateness sum costs tens of µs: read again only when the canary was slow.)
        const poolWait = ms < CANARY_QUEUE_MS ? ms : ms - (this.loopLateness() - late0);
        this.canaryWaits = poolWait >= CANARY_QUEUE_MS ? this.canaryWaits + 1 : 0;
        // The first of a run of waiting canaries: the pool has been saturated since about then.
        if (this.canaryWaits === 1) this.waitRunStart = t0;
        // Three waiting canaries in a row: one or two alone are often just a pool thread
        // descheduled on a busy machine; a saturated pool makes every canary wait.
        if (this.countingMode !== 'always' && this.canaryWaits >= CANARY_WAITS) {
          if (!this.counting) {
            // Nothing was counted while the canaries waited, but their waits prove every
            // thread was busy then.
            const now = performance.now();
            this.account(now);
            // Every canary since the first of this run waited, so the pool was most likely
            // saturated all along, not only while the last one waited (counting starts only
            // now: without this, whole-run saturation depended on how long the switch took).
            const busyMs = Math.max(poolWait, now - this.waitRunStart);
            for (const p of [this.interval, this.total]) {
              p.saturatedMs += busyMs;
              p.busyThreadMs += busyMs * this.size;
            }
          }
          this.sawQueueing();
        }
      });
    } finally {
      this.probing = false;
    }
  }

  private counts(list: Iterable<Req>): ThreadpoolCounts {
    const c = emptyCounts();
    for (const r of list) {
      c[r.kind]++;
      c.total++;
    }
    return c;
  }

  private stats(p: Period, now: number): ThreadpoolStats {
    const elapsed = Math.max(1, now - p.start);
    const wait = p.wait.stats();
    const probe = p.probe.stats();
    const saturation = Math.min(1, p.saturatedMs / elapsed);
    const { recommendedSize, reason } = this.recommend(p, wait.p99, probe.p99, saturation);
    return {
      enabled: true,
      counting: this.counting,
      size: this.size,
      inFlight: this.counts(this.reqs.values()),
      queued: this.counts(this.waiting),
      peak: {
        inFlight: Math.max(
          p.peakInFlight,
          p === this.total ? this.sampledPeakTotal : this.sampledPeakInterval,
        ),
        queued: p.peakQueued,
      },
      completed: p.completed,
      wait,
      probe,
      saturation: round(saturation),
      utilization: round(Math.min(1, p.busyThreadMs / elapsed / this.size)),
      recommendedSize,
      reason,
    };
  }

  private recommend(
    p: Period,
    waitP99: number,
    probeP99: number,
    saturation: number,
  ): { recommendedSize: number; reason: string } {
    const size = this.size;
    if (p.peakQueued > 0 && (waitP99 >= 5 || saturation >= 0.5)) {
      const want = Math.min(1024, Math.max(size + 1, p.peakInFlight));
      const cores =
        typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
      let reason = `up to ${p.peakInFlight} thread-pool requests were in flight at once with ${size} threads; requests waited up to ${Math.round(p.wait.stats().max)} ms (p99 ${Math.round(waitP99)} ms) for a thread`;
      if (want > cores) {
        reason += `. CPU-bound work (crypto, zlib) will not finish faster with more threads than the ${cores} CPU cores, but it stops waiting behind other requests (fs, dns)`;
      }
      return { recommendedSize: want, reason };
    }
    if (probeP99 >= 20 && p.peakQueued === 0) {
      return {
        recommendedSize: size,
        reason: `the canary request waited ${probeP99} ms (p99) although this thread's requests did not fill the pool: thread-pool work from worker threads or native addons, or a busy event loop delaying callbacks`,
      };
    }
    return {
      recommendedSize: size,
      reason:
        p.peakInFlight > 0
          ? `no queueing: at most ${p.peakInFlight} of ${size} threads were needed at once`
          : `no thread-pool requests were counted`,
    };
  }

  /** Stats for the current period, then start a new one. */
  sample(): ThreadpoolStats {
    this.flushUnverified();
    const now = performance.now();
    this.account(now);
    const s = this.stats(this.interval, now);
    this.interval = new Period();
    this.interval.start = now;
    this.interval.peakInFlight = this.reqs.size;
    this.interval.peakQueued = this.waiting.length;
    this.sampledPeakInterval = 0;
    return s;
  }

  /** Stats since start (does not reset anything). */
  sinceStart(): ThreadpoolStats {
    this.flushUnverified();
    const now = performance.now();
    this.account(now);
    return this.stats(this.total, now);
  }
}

/** Stats object for when tracking is off. */
export function disabledThreadpoolStats(): ThreadpoolStats {
  const size = threadpoolSize();
  return {
    enabled: false,
    counting: false,
    size,
    inFlight: emptyCounts(),
    queued: emptyCounts(),
    peak: { inFlight: 0, queued: 0 },
    completed: 0,
    wait: { p50: 0, p99: 0, max: 0, count: 0 },
    probe: { p50: 0, p99: 0, max: 0, count: 0 },
    saturation: 0,
    utilization: 0,
    recommendedSize: size,
    reason: 'thread-pool tracking is off',
  };
}
