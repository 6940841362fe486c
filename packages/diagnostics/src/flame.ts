import type { CpuProfile } from './profiler.js';

/** Where a profile node's code is, as V8 reports it. */
export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
  scriptId?: string;
}
/** One node of the call tree in a `.cpuprofile`. */
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children: number[];
  hitCount: number;
}

/** A `.cpuprofile` (what Chrome DevTools and speedscope open), plus the clock the CLI needs. */
export interface MergedProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
  /** epoch ms = profile µs / 1000 + this. Extra field; the viewers ignore it. */
  offthreadClockOffsetMs?: number;
}

const frameKey = (cf: CallFrame) =>
  `${cf.functionName}\u0000${cf.url}\u0000${cf.lineNumber}\u0000${cf.columnNumber}`;

/**
 * Merges the consecutive windows of the rolling profiler into one profile for the whole run:
 * call trees joined by path (same frames from the root, same node), samples in time order. The
 * windows overlap by a few samples (the next starts before the previous ends): those are kept once.
 */
export class ProfileMerger {
  private nodes: ProfileNode[] = [];
  private byPath = new Map<string, number>();
  private samples: number[] = [];
  private times: number[] = [];
  private startTime = 0;
  private endTime = 0;

  constructor() {
    this.nodes.push({
      id: 1,
      callFrame: {
        functionName: '(root)',
        url: '',
        lineNumber: -1,
        columnNumber: -1,
        scriptId: '0',
      },
      children: [],
      hitCount: 0,
    });
  }

  add(profile: CpuProfile): void {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const mapped = new Map<number, number>();
    const map = (id: number): number => {
      const known = mapped.get(id);
      if (known !== undefined) return known;
      const n = byId.get(id)!;
      const p = parent.get(id);
      let out: number;
      if (p === undefined)
        out = 1; // the window's root is the merged root
      else {
        const pm = map(p);
        const key = `${pm}\u0001${frameKey(n.callFrame as CallFrame)}`;
        let existing = this.byPath.get(key);
        if (existing === undefined) {
          existing = this.nodes.length + 1;
          this.nodes.push({
            id: existing,
            callFrame: { ...(n.callFrame as CallFrame) },
            children: [],
            hitCount: 0,
          });
          this.nodes[pm - 1]!.children.push(existing);
          this.byPath.set(key, existing);
        }
        out = existing;
      }
      mapped.set(id, out);
      return out;
    };
    const last = this.times.length ? this.times[this.times.length - 1]! : Number.NEGATIVE_INFINITY;
    let t = profile.startTime;
    const ids = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    if (this.samples.length === 0) this.startTime = profile.startTime;
    for (let i = 0; i < ids.length; i++) {
      t += deltas[i] ?? 0;
      if (t <= last) continue;
      const id = map(ids[i]!);
      this.samples.push(id);
      this.times.push(t);
      this.nodes[id - 1]!.hitCount++;
    }
    this.endTime = Math.max(this.endTime, profile.endTime);
  }

  get sampleCount(): number {
    return this.samples.length;
  }

  /** The merged profile. */
  result(clockOffsetMs?: number): MergedProfile {
    const timeDeltas: number[] = [];
    let prev = this.startTime;
    for (const t of this.times) {
      timeDeltas.push(t - prev);
      prev = t;
    }
    return {
      nodes: this.nodes,
      startTime: this.startTime,
      endTime: Math.max(this.endTime, prev),
      samples: this.samples,
      timeDeltas,
      ...(clockOffsetMs !== undefined ? { offthreadClockOffsetMs: clockOffsetMs } : {}),
    };
  }
}

interface Box {
  name: string;
  where: string;
  depth: number;
  x: number;
  w: number;
  n: number;
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const IDLE = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Warm colours for the app's code, grey for Node internals, blue for dependencies. */
function color(url: string, name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
  const j = Math.abs(h % 20);
  // Node internals and this monitor's own frames: grey, they are not the app's code.
  if (
    url.startsWith('node:') ||
    url === '' ||
    url.includes('/diagnostics/dist/') ||
    url.includes('@offthread/diagnostics')
  ) {
    return `hsl(0,0%,${72 + (j % 10)}%)`;
  }
  if (url.includes('/node_modules/')) return `hsl(${205 + j},55%,${68 + (j % 8)}%)`;
  return `hsl(${18 + j},85%,${60 + (j % 10)}%)`;
}

/**
 * An icicle (a flame graph hanging from the root) as inline SVG: the width of each box is its
 * share of the busy samples in [fromUs, toUs] (all when omitted). Identical stacks are merged, so
 * each box says how many samples went through that path. No script: hover shows a <title>.
 */
export function renderIcicle(
  profile: MergedProfile,
  options: { fromUs?: number; toUs?: number; width?: number; title?: string } = {},
): string {
  const W = options.width ?? 1100;
  const ROW = 17;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children) parent.set(c, n.id);
  // Count samples per node inside the window, then totals up the tree.
  const self = new Map<number, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (options.fromUs !== undefined && t < options.fromUs) continue;
    if (options.toUs !== undefined && t > options.toUs) continue;
    const id = profile.samples[i]!;
    if (IDLE.has(byId.get(id)?.callFrame.functionName ?? '')) continue;
    self.set(id, (self.get(id) ?? 0) + 1);
    total++;
  }
  if (total === 0) return '<p class="muted">No busy samples in this span.</p>';
  const totals = new Map<number, number>();
  for (const [id, n] of self) {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      totals.set(cur, (totals.get(cur) ?? 0) + n);
    }
  }
  const boxes: Box[] = [];
  const place = (id: number, depth: number, x: number) => {
    const node = byId.get(id)!;
    const n = totals.get(id) ?? 0;
    const w = (n / total) * W;
    if (w < 0.5) return;
    const cf = node.callFrame;
    if (depth >= 0) {
      const file = cf.url.replace(/^file:\/\//, '');
      boxes.push({
        name: cf.functionName || '(anonymous)',
        where: file ? `${file}:${cf.lineNumber + 1}` : '',
        depth,
        x,
        w,
        n,
      });
    }
    let cx = x;
    const kids = [...node.children].sort((a, b) => (totals.get(b) ?? 0) - (totals.get(a) ?? 0));
    for (const c of kids) {
      if (!totals.has(c)) continue;
      place(c, depth + 1, cx);
      cx += ((totals.get(c) ?? 0) / total) * W;
    }
  };
  place(1, -1, 0);
  const depth = Math.max(0, ...boxes.map((b) => b.depth)) + 1;
  const H = depth * ROW;
  const rects = boxes
    .map((b) => {
      const label =
        b.w > 40
          ? `<text x="${(b.x + 3).toFixed(1)}" y="${b.depth * ROW + 12}" clip-path="url(#c${b.depth}-${Math.round(b.x)})">${esc(b.name)}</text>`
          : '';
      const clip =
        b.w > 40
          ? `<clipPath id="c${b.depth}-${Math.round(b.x)}"><rect x="${b.x.toFixed(1)}" y="${b.depth * ROW}" width="${(b.w - 2).toFixed(1)}" height="${ROW}"/></clipPath>`
          : '';
      return `<g class="frame">${clip}<title>${esc(b.name)}${b.where ? ` (${esc(b.where)})` : ''}: ${b.n} sample${b.n === 1 ? '' : 's'}, ${((b.n / total) * 100).toFixed(1)}%</title><rect x="${b.x.toFixed(1)}" y="${b.depth * ROW}" width="${Math.max(0.5, b.w - 0.5).toFixed(1)}" height="${ROW - 1}" fill="${color(b.where, b.name)}" data-name="${esc(b.name)}"/>${label}</g>`;
    })
    .join('');
  return `<svg class="flame" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(options.title ?? 'flame graph')}">${rects}</svg><p class="muted">${total} busy samples; width = share of them, top row = outermost call. Hover a box for its file and count.</p>`;
}
