import { poolAdvice } from './pools.js';
import { isUserFrame } from './profiler.js';
import type { Block, ProfileStats, Sample, StackFrame } from './types.js';

/**
 * The verdict categories, most severe first. `insufficient-data`: nothing was found, but the
 * run was too short to call it healthy.
 */
export type VerdictKind =
  | 'event-loop-blocked'
  | 'pool-saturated'
  | 'threadpool-saturated'
  | 'cpu-bound'
  | 'gc-pressure'
  | 'healthy'
  | 'insufficient-data';

/** One problem found, with the numbers behind it and what to do. */
export interface Finding {
  kind: Exclude<VerdictKind, 'healthy' | 'insufficient-data'>;
  /** One-line title, e.g. "Event loop blocked". */
  title: string;
  /** Measurements that support the finding. */
  evidence: string[];
  /** What to change. */
  recommendation: string;
}

/** The outcome of {@link diagnose}. */
export interface Verdict {
  /** The most severe finding's kind, or `healthy`. */
  kind: VerdictKind;
  /** All findings, most severe first. Empty when healthy. */
  findings: Finding[];
  /** Human-readable one-line summary. */
  summary: string;
}

/** Thresholds of {@link diagnose}. Every field is optional. */
export interface DiagnoseOptions {
  /** Blocks longer than this count (ms). Defaults to 50. */
  blockThreshold?: number;
  /** Thread-pool queue wait p99 (ms) that counts as saturated. Defaults to 10. */
  waitThreshold?: number;
  /** Event-loop utilization (0..1) above which the loop counts as CPU-bound. Defaults to 0.9. */
  cpuUtilization?: number;
  /** Share (0..1) of busy CPU samples in user code needed for CPU-bound. Defaults to 0.5. */
  cpuUserShare?: number;
  /** Share (0..1) of the run spent in GC pauses that counts as GC pressure. Defaults to 0.1. */
  gcShare?: number;
  /** A run shorter than this (ms) without findings is `insufficient-data`. Defaults to 1000. */
  minDuration?: number;
}

/** The defaults of {@link DiagnoseOptions}. */
export const defaultDiagnoseOptions: Required<DiagnoseOptions> = Object.freeze({
  blockThreshold: 50,
  waitThreshold: 10,
  cpuUtilization: 0.9,
  cpuUserShare: 0.5,
  gcShare: 0.1,
  minDuration: 1000,
});

/** What {@link diagnose} reads: the since-start numbers, optionally the per-interval samples. */
export interface DiagnoseInput {
  sinceStart: Sample;
  profile?: ProfileStats;
  samples?: Sample[];
  /** All blocks of the run (defaults to `sinceStart.eventLoop.blocks`). */
  blocks?: Block[];
}

/** `fn (file:line:column)` */
export function formatFrame(f: StackFrame): string {
  return f.line > 0 ? `${f.functionName} (${f.file}:${f.line}:${f.column})` : `${f.functionName}`;
}

/** Share of the run with every libuv thread busy that makes thread-pool queueing more than a burst. */
const SUSTAINED_SATURATION = 0.05;

/**
 * A block counts as the app's when the process ran for at least this share of it. A process
 * descheduled while idle runs ~0% of the stall; blocking code on a machine with 3-4 runnable
 * processes per core still gets a quarter or more.
 */
const RAN = 0.25;

const ms = (n: number) => `${n >= 100 ? Math.round(n) : Math.round(n * 10) / 10} ms`;
const pct = (n: number) => `${Math.round(n * 100)}%`;

function offloadAdvice(fn: string): string {
  return `Move ${fn} off the event loop: run it in a worker thread with @offthread/core (\`pool.run()\`), or wrap the handler with \`offThread()\` (Express) or \`@OffThread()\` (NestJS). If it cannot move, split it into chunks that yield (setImmediate) between them.`;
}

/** Group blocks by their top user frame; biggest total blocked time first. */
export function blockCulprits(blocks: Block[]): {
  frame: StackFrame;
  count: number;
  time: number;
  max: number;
  stack: StackFrame[];
  /** The HTTP route most of these blocks happened in, e.g. `GET /report`. */
  route?: string;
}[] {
  const by = new Map<
    string,
    {
      frame: StackFrame;
      count: number;
      time: number;
      max: number;
      stack: StackFrame[];
      routes: Map<string, number>;
    }
  >();
  for (const b of blocks) {
    const top = b.stack[0];
    if ((b.busyShare ?? 1) < RAN) continue;
    if (!top || !isUserFrame(top)) continue;
    const k = `${top.functionName} ${top.url}:${top.line}`;
    const e = by.get(k) ?? {
      frame: top,
      count: 0,
      time: 0,
      max: 0,
      stack: b.stack,
      routes: new Map<string, number>(),
    };
    if (b.route) {
      const r = `${b.route.method} ${b.route.path}`;
      e.routes.set(r, (e.routes.get(r) ?? 0) + 1);
    }
    e.count++;
    e.time += b.duration;
    e.max = Math.max(e.max, b.duration);
    by.set(k, e);
  }
  return [...by.values()]
    .sort((a, b) => b.time - a.time)
    .map(({ routes, ...e }) => {
      let route: string | undefined;
      let most = 0;
      for (const [r, n] of routes) {
        if (n > most) {
          most = n;
          route = r;
        }
      }
      return route ? { ...e, route } : e;
    });
}

/**
 * Turn measurements into a verdict: healthy, event-loop blocked, thread pool saturated or
 * CPU-bound, each with evidence and a recommendation.
 *
 * @param input A snapshot (`monitor.snapshot()`) or the CLI's run data.
 * @param options Thresholds; see {@link DiagnoseOptions}.
 */
export function diagnose(input: DiagnoseInput, options: DiagnoseOptions = {}): Verdict {
  const o = { ...defaultDiagnoseOptions, ...options };
  const s = input.sinceStart;
  const el = s.eventLoop;
  const tp = s.threadpool;
  const blocks = input.blocks ?? el.blocks;
  const findings: Finding[] = [];

  // Event loop blocked: blocks attributed to user code, or a p99 delay above the threshold.
  const culprits = blockCulprits(blocks);
  // Blocks during which the thread mostly did not run (a busy machine descheduled it) are not
  // the app's fault; only blocks where code ran count.
  const ranBlocks = blocks.filter(
    (b) => b.duration >= o.blockThreshold && (b.busyShare ?? 1) >= RAN,
  );
  const starved = blocks.length - ranBlocks.length;
  if (
    culprits.length > 0 ||
    ranBlocks.length >= 3 ||
    (el.delay.p99 >= o.blockThreshold && ranBlocks.length > 0)
  ) {
    const evidence = [
      `${el.blockCount} block${el.blockCount === 1 ? '' : 's'} over ${o.blockThreshold} ms, ${ms(el.blockedTime)} blocked in total; delay p99 ${ms(el.delay.p99)}, max ${ms(el.delay.max)}`,
    ];
    if (starved > 0) {
      evidence.push(
        `${starved} of the blocks ran almost no code: the process was starved of CPU, not blocked by it`,
      );
    }
    let recommendation = offloadAdvice('the blocking code');
    const top = culprits[0];
    if (top) {
      if (top.route) {
        evidence.push(`${top.route} blocked ${ms(top.max)} in ${top.frame.functionName}()`);
      }
      evidence.push(
        `blocking function: ${formatFrame(top.frame)}, in ${top.count} block${top.count === 1 ? '' : 's'} (longest ${ms(top.max)})`,
      );
      for (const c of culprits.slice(1, 3)) {
        evidence.push(
          `also: ${formatFrame(c.frame)}, in ${c.count} block${c.count === 1 ? '' : 's'}`,
        );
      }
      recommendation = offloadAdvice(`\`${top.frame.functionName}\``);
    }
    findings.push({
      kind: 'event-loop-blocked',
      title: 'Event loop blocked',
      evidence,
      recommendation,
    });
  }

  // An @offthread/core pool saturated: its threads busy nearly all the time while tasks queued
  // and waited longer than they run. A pool that keeps up (tasks start at once) is left alone.
  for (const p of s.pools ?? []) {
    const saturated =
      p.queued > 0 &&
      p.busyShare >= 0.8 &&
      ((p.saturatedShare ?? 0) >= 0.3 || p.wait.p99 >= Math.max(o.waitThreshold, p.run.p50));
    if (!saturated) continue;
    const hot = p.hotFunctions[0];
    findings.push({
      kind: 'pool-saturated',
      title: `Pool "${p.name}" saturated`,
      evidence: [
        `${p.threads} of ${p.maxThreads} threads, busy ${pct(p.busyShare)} of the time; up to ${p.queued} task${p.queued === 1 ? '' : 's'} queued; ${Math.round(p.tasksPerSecond)} tasks/s`,
        `tasks waited p50 ${ms(p.wait.p50)}, p99 ${ms(p.wait.p99)} for a thread, and ran p50 ${ms(p.run.p50)}, p99 ${ms(p.run.p99)}`,
        ...(hot
          ? [`hot in the pool threads: ${formatFrame(hot.frame)} ${pct(hot.share)} of CPU samples`]
          : []),
      ],
      recommendation: poolAdvice(p),
    });
  }

  // Thread pool saturated: requests queued and waited for a thread, and not just once. A burst
  // at startup (Node's ESM loader reads every module with fs/promises: hundreds of requests on 4
  // threads) really queues for a few ms, but no UV_THREADPOOL_SIZE fixes a one-off: it needs the
  // threads all busy for a share of the run, or queueing seen in more than one interval.
  const queuedIntervals = input.samples?.filter((x) => x.threadpool.peak.queued > 0).length ?? 0;
  if (
    tp.enabled &&
    tp.peak.queued > 0 &&
    (tp.wait.p99 >= o.waitThreshold || tp.saturation >= 0.5) &&
    (tp.saturation >= SUSTAINED_SATURATION || queuedIntervals >= 2)
  ) {
    findings.push({
      kind: 'threadpool-saturated',
      title: 'Thread pool saturated',
      evidence: [
        `UV_THREADPOOL_SIZE=${tp.size}; all threads busy ${pct(tp.saturation)} of the time; up to ${tp.peak.queued} requests queued`,
        `queue wait p50 ${ms(tp.wait.p50)}, p99 ${ms(tp.wait.p99)}, max ${ms(tp.wait.max)} (canary p99 ${ms(tp.probe.p99)})`,
        tp.reason,
      ],
      recommendation: `Set UV_THREADPOOL_SIZE=${tp.recommendedSize} in the environment before Node starts (e.g. \`UV_THREADPOOL_SIZE=${tp.recommendedSize} node app.js\`); setting it from JavaScript after the pool started has no effect. For CPU-heavy crypto/zlib, a worker pool (@offthread/core \`pool.run()\`) adds capacity without starving fs and dns.`,
    });
  }

  // CPU-bound: the loop is busy nearly all the time, mostly in the app's own code.
  const prof = input.profile;
  const userShare = prof && prof.busySamples > 0 ? prof.userSamples / prof.busySamples : 0;
  if (el.utilization >= o.cpuUtilization && prof?.enabled && userShare >= o.cpuUserShare) {
    const hot = prof.hotFunctions.slice(0, 3);
    const first = hot[0];
    findings.push({
      kind: 'cpu-bound',
      title: 'CPU-bound',
      evidence: [
        `event-loop utilization ${pct(el.utilization)}; CPU ${Math.round(s.process.cpu.percent)}% of a core; ${pct(userShare)} of busy samples in your code`,
        ...hot.map((h) => `hot: ${formatFrame(h.frame)} ${pct(h.share)} of CPU samples`),
      ],
      recommendation: first
        ? offloadAdvice(`\`${first.frame.functionName}\``)
        : offloadAdvice('the hottest functions'),
    });
  }

  // GC pressure: a large share of the run in GC pauses. A CPU-bound or blocked app pauses for
  // GC no more than a healthy one, so this reads pauses, not ELU or delay.
  const gc = s.process.gc;
  if (gc && s.duration >= o.minDuration && gc.share >= o.gcShare) {
    const mb = (n: number) => `${Math.round(n / 1048576)} MB`;
    const start = s.process.heapUsedAtStart;
    const end = s.process.memory.heapUsed;
    const grew = start !== undefined && end > start * 1.5 && end - start > 50 * 1048576;
    findings.push({
      kind: 'gc-pressure',
      title: 'GC pressure',
      evidence: [
        `${pct(gc.share)} of the run in ${gc.count} garbage-collection pauses (${ms(gc.pauseMs)} in total)${
          gc.observed !== undefined && gc.observed < 1
            ? `, estimated from the ${pct(gc.observed)} of the run that was observed (gcDutyCycle)`
            : ''
        }`,
        start !== undefined
          ? `heap used ${mb(start)} at start, ${mb(end)} at the end (heap total ${mb(s.process.memory.heapTotal)})`
          : `heap used ${mb(end)} (heap total ${mb(s.process.memory.heapTotal)})`,
      ],
      recommendation: grew
        ? 'The heap keeps growing: look for a leak (objects kept in a cache, a map or closures that is never trimmed) with a heap snapshot (node --heapsnapshot-signal=SIGUSR2, Chrome DevTools). If the data is meant to stay, raise the limit with --max-old-space-size.'
        : 'Allocate less per request: reuse buffers and objects, avoid building large temporary arrays and strings (e.g. stream JSON instead of JSON.stringify on big objects). If the heap is near its limit, raise it with --max-old-space-size.',
    });
  }

  if (findings.length === 0 && s.duration < o.minDuration) {
    return {
      kind: 'insufficient-data',
      findings,
      summary: `too little data: the monitor ran ${(s.duration / 1000).toFixed(1)} s; run the app for at least ${o.minDuration / 1000} s (under load, for a server) before trusting a verdict`,
    };
  }
  const kind: VerdictKind = findings.length > 0 ? findings[0]!.kind : 'healthy';
  const summary =
    kind === 'healthy'
      ? `healthy: delay p99 ${ms(el.delay.p99)}, ELU ${pct(el.utilization)}, no thread-pool queueing`
      : findings.map((f) => f.title.toLowerCase()).join(', ');
  return { kind, findings, summary };
}
