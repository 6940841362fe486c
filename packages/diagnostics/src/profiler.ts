import { fileURLToPath } from 'node:url';
import { loadBuiltin } from './builtin.js';
import type { HotFunction, ProfileStats, StackFrame } from './types.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** The subset of a V8 `Profiler.Profile` we read. Times are µs on the monotonic clock. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

interface InspectorSession {
  connect(): void;
  disconnect(): void;
  post(method: string, params?: object, cb?: (err: Error | null, res?: any) => void): void;
}

const META = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

function toFrame(cf: CallFrame): StackFrame {
  let file = cf.url;
  if (file.startsWith('file:')) {
    try {
      file = fileURLToPath(file);
    } catch {}
  }
  return {
    functionName: cf.functionName || '(anonymous)',
    url: cf.url,
    file,
    line: cf.lineNumber + 1,
    column: cf.columnNumber + 1,
  };
}

/** User code: has a script URL that is neither a Node internal nor a dependency. */
export function isUserFrame(f: { url: string }): boolean {
  return (
    f.url !== '' &&
    !f.url.startsWith('node:') &&
    !f.url.includes('/node_modules/') &&
    !f.url.includes('\\node_modules\\') &&
    !f.url.includes('@offthread/diagnostics') &&
    !f.url.includes('/packages/diagnostics/dist/') &&
    // The pool's own dispatch code in its threads is not the app's task function.
    !f.url.includes('@offthread/core') &&
    !f.url.includes('/packages/core/dist/')
  );
}

const frameKey = (f: StackFrame) => `${f.functionName} ${f.url}:${f.line}:${f.column}`;

/** A profile indexed for stack lookups. */
class IndexedProfile {
  private parent = new Map<number, number>();
  private byId = new Map<number, ProfileNode>();
  private stackCache = new Map<number, StackFrame[]>();
  readonly times: number[] = [];
  readonly ids: number[];

  constructor(readonly profile: CpuProfile) {
    for (const n of profile.nodes) {
      this.byId.set(n.id, n);
      for (const c of n.children ?? []) this.parent.set(c, n.id);
    }
    this.ids = profile.samples ?? [];
    let t = profile.startTime;
    const deltas = profile.timeDeltas ?? [];
    for (let i = 0; i < this.ids.length; i++) {
      t += deltas[i] ?? 0;
      this.times.push(t);
    }
  }

  isIdle(id: number): boolean {
    return this.byId.get(id)?.callFrame.functionName === '(idle)';
  }

  isBusy(id: number): boolean {
    const name = this.byId.get(id)?.callFrame.functionName ?? '(idle)';
    return name !== '(idle)' && name !== '(program)' && name !== '(root)';
  }

  /** Stack for a sample, top first, without meta frames. */
  stack(id: number): StackFrame[] {
    let cached = this.stackCache.get(id);
    if (cached) return cached;
    cached = [];
    let cur: number | undefined = id;
    while (cur !== undefined) {
      const node = this.byId.get(cur);
      if (!node) break;
      if (!META.has(node.callFrame.functionName) || node.callFrame.url !== '') {
        cached.push(toFrame(node.callFrame));
      }
      cur = this.parent.get(cur);
    }
    this.stackCache.set(id, cached);
    return cached;
  }
}

/** Drop native/internal frames above the first user frame, so the top frame is the user's code. */
export function userTopStack(stack: StackFrame[]): StackFrame[] {
  const i = stack.findIndex(isUserFrame);
  return i > 0 ? stack.slice(i) : stack;
}

/** Who ran during [fromUs, toUs]: the dominant stack, its share, and the busy span. */
export function attribute(
  profile: CpuProfile,
  fromUs: number,
  toUs: number,
): { stack: StackFrame[]; samples: number; share: number; firstUs: number; lastUs: number } {
  const p = new IndexedProfile(profile);
  const counts = new Map<
    string,
    { n: number; stacks: Map<string, { n: number; s: StackFrame[] }> }
  >();
  let samples = 0;
  let firstUs = 0;
  let lastUs = 0;
  for (let i = 0; i < p.ids.length; i++) {
    const t = p.times[i]!;
    if (t < fromUs || t > toUs) continue;
    const id = p.ids[i]!;
    if (!p.isBusy(id)) continue;
    samples++;
    if (firstUs === 0) firstUs = t;
    lastUs = t;
    const stack = userTopStack(p.stack(id));
    if (stack.length === 0) continue;
    const top = frameKey(stack[0]!);
    let entry = counts.get(top);
    if (!entry) {
      entry = { n: 0, stacks: new Map() };
      counts.set(top, entry);
    }
    entry.n++;
    const sk = stack.map(frameKey).join('|');
    const se = entry.stacks.get(sk);
    if (se) se.n++;
    else entry.stacks.set(sk, { n: 1, s: stack });
  }
  let best: { n: number; stacks: Map<string, { n: number; s: StackFrame[] }> } | undefined;
  for (const e of counts.values()) if (!best || e.n > best.n) best = e;
  let stack: StackFrame[] = [];
  if (best) {
    let top = 0;
    for (const s of best.stacks.values()) {
      if (s.n > top) {
        top = s.n;
        stack = s.s;
      }
    }
  }
  return {
    stack: stack.slice(0, 32),
    samples,
    share: samples ? Math.round(((best?.n ?? 0) / samples) * 1000) / 1000 : 0,
    firstUs,
    lastUs,
  };
}

/** Accumulates where CPU time went, profile after profile. */
export class HotFunctionTable {
  private table = new Map<string, { frame: StackFrame; samples: number }>();
  samples = 0;
  busySamples = 0;
  userSamples = 0;

  /** Add a profile; returns its sample count and how many samples found the loop idle. */
  add(profile: CpuProfile): { samples: number; idle: number } {
    const p = new IndexedProfile(profile);
    let idle = 0;
    for (const id of p.ids) {
      this.samples++;
      if (p.isIdle(id)) idle++;
      if (!p.isBusy(id)) continue;
      this.busySamples++;
      const top = p.stack(id).find(isUserFrame);
      if (!top) continue;
      this.userSamples++;
      const k = frameKey(top);
      const e = this.table.get(k);
      if (e) e.samples++;
      else this.table.set(k, { frame: top, samples: 1 });
    }
    return { samples: p.ids.length, idle };
  }

  stats(enabled: boolean, limit = 10): ProfileStats {
    const hot: HotFunction[] = [...this.table.values()]
      .sort((a, b) => b.samples - a.samples)
      .slice(0, limit)
      .map((e) => ({
        frame: e.frame,
        samples: e.samples,
        share: this.busySamples ? Math.round((e.samples / this.busySamples) * 1000) / 1000 : 0,
      }));
    return {
      enabled,
      samples: this.samples,
      busySamples: this.busySamples,
      userSamples: this.userSamples,
      hotFunctions: hot,
    };
  }
}

interface InspectorModule {
  Session: new () => InspectorSession & {
    on(event: string, listener: (message: { params: { profile: CpuProfile } }) => void): void;
  };
  console: { profile(label: string): void; profileEnd(label: string): void };
}

let rollingId = 0;

/**
 * V8's sampling profiler over a same-thread inspector session, in consecutive windows.
 *
 * Why not `Profiler.stop` + `Profiler.start`: when the last profile stops, the inspector
 * disposes V8's CpuProfiler; a new one re-logs existing optimized code without inlining
 * data, so a function inlined into its caller vanishes from every later stack. Instead each
 * window is an inspector-console profile, and the next one starts before the previous ends,
 * so the CpuProfiler lives for the whole run. The finished profile arrives synchronously
 * (same-thread session), which lets `roll()` attribute a block right after it ended.
 */
export class RollingProfiler {
  private session:
    | (InspectorSession & { on: InspectorModule['Session']['prototype']['on'] })
    | null = null;
  private console: InspectorModule['console'] | null = null;
  private label: string | null = null;
  private finished: CpuProfile | null = null;
  private readonly prefix = `offthread-${process.pid}-${++rollingId}-`;
  private seq = 0;

  constructor(private readonly intervalUs: number) {}

  /** Connect a session; false when the inspector is not available in this Node build. */
  init(): boolean {
    try {
      const inspector = loadBuiltin('node:inspector') as InspectorModule | null;
      if (!inspector?.console?.profile) return false;
      const session = new inspector.Session();
      session.connect();
      session.on('Profiler.consoleProfileFinished', (m) => {
        this.finished = m.params.profile;
      });
      this.session = session;
      this.console = inspector.console;
      return true;
    } catch {
      this.session = null;
      return false;
    }
  }

  start(): void {
    const s = this.session;
    if (!s || this.label) return;
    s.post('Profiler.enable');
    s.post('Profiler.setSamplingInterval', { interval: this.intervalUs });
    this.label = this.prefix + this.seq++;
    this.console!.profile(this.label);
  }

  /** End the current window and return its profile; the next window is already running. */
  roll(): CpuProfile | null {
    if (!this.session || !this.label) return null;
    const next = this.prefix + this.seq++;
    this.console!.profile(next);
    return this.end(next);
  }

  private end(next: string | null): CpuProfile | null {
    const old = this.label!;
    this.label = next;
    this.finished = null;
    this.console!.profileEnd(old);
    const p = this.finished;
    this.finished = null;
    return p;
  }

  stop(): CpuProfile | null {
    const s = this.session;
    if (!s) return null;
    const profile = this.label ? this.end(null) : null;
    try {
      s.post('Profiler.disable');
      s.disconnect();
    } catch {}
    this.session = null;
    return profile;
  }
}
