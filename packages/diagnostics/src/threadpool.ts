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

/**
 * Counts thread-pool requests made from this thread with async_hooks (init on submit, before on
 * completion), and models the pool as `size` threads serving a FIFO queue, which is what libuv
 * does. From that it derives queue wait per request and the share of time all threads were busy.
 * A canary (crypto.randomFill of 1 byte) measures the real queue, including work this thread
 * cannot see (worker threads, native addons).
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

  constructor(private readonly probeInterval: number) {}

  start(): void {
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
    this.hook.enable();
    if (this.probeInterval > 0) {
      this.probeTimer = setInterval(() => this.sendProbe(), this.probeInterval);
      this.probeTimer.unref();
    }
  }

  stop(): void {
    this.hook?.disable();
    this.hook = null;
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
      if (!self.zlibPending.has(id)) {
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
    this.probing = true;
    try {
      randomFill(this.probeBuf, () => {
        const ms = performance.now() - t0;
        this.probeInFlight = false;
        this.interval.probe.add(ms);
        this.total.probe.add(ms);
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
      size: this.size,
      inFlight: this.counts(this.reqs.values()),
      queued: this.counts(this.waiting),
      peak: { inFlight: p.peakInFlight, queued: p.peakQueued },
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
