/**
 * Bar charts drawn at build time, as inline SVG, from the Markdown tables the pages already show
 * (benchmarks/RESULTS.md and docs/measurements, included into the pages). A markdown-it rule
 * reads each table after parsing and, when a chart spec matches the section and the columns,
 * inserts a <figure> with the chart right after the table. No chart library runs in the browser,
 * and the chart cannot disagree with the table next to it: both come from the same tokens.
 */
import type { MarkdownRenderer as MarkdownIt } from 'vitepress';

type Token = ReturnType<MarkdownIt['parse']>[number];

export interface ChartSpec {
  /** Matches the nearest heading above the table (any level), or '' when there is none. */
  heading?: RegExp;
  /** The first header cell (the label column), e.g. `library`. */
  labelColumn: string | RegExp;
  /** Header cells of the columns to plot, one bar per column and row. */
  series: (string | RegExp)[];
  /** Axis caption, e.g. `tasks/s`. */
  unit: string;
  better: 'higher' | 'lower';
  title: string;
}

export const chartSpecs: ChartSpec[] = [
  {
    heading: /burst throughput/i,
    labelColumn: 'library',
    series: ['tasks/s'],
    unit: 'tasks/s',
    better: 'higher',
    title: 'Tiny-task burst throughput',
  },
  {
    heading: /round-trip latency/i,
    labelColumn: 'library',
    series: ['p50 (µs)', 'p99 (µs)'],
    unit: 'µs per call',
    better: 'lower',
    title: 'Sequential round trip',
  },
  {
    heading: /CPU-bound speed-up/i,
    labelColumn: 'library',
    series: ['speed-up'],
    unit: 'x faster than inline (2.00x is the ceiling)',
    better: 'higher',
    title: 'CPU-bound speed-up on 2 threads',
  },
  {
    heading: /ArrayBuffer round trip/i,
    labelColumn: 'library',
    series: ['p50 (ms)'],
    unit: 'ms (p50)',
    better: 'lower',
    title: '16 MB ArrayBuffer round trip',
  },
  {
    heading: /Startup time/i,
    labelColumn: 'library',
    series: ['first (ms)', 'again (ms)'],
    unit: 'ms',
    better: 'lower',
    title: 'Pool startup',
  },
  {
    labelColumn: 'route',
    series: [/`\/health` p50/, /`\/health` p99/],
    unit: 'ms, /health latency under load',
    better: 'lower',
    title: '/health latency while the route is loaded',
  },
  {
    labelColumn: 'route',
    series: ['requests/s'],
    unit: 'requests/s',
    better: 'higher',
    title: 'Throughput of the loaded route',
  },
  {
    labelColumn: 'UV_THREADPOOL_SIZE',
    series: [/fs\.readFile/],
    unit: 'ms until a small fs.readFile completes',
    better: 'lower',
    title: 'A file read waiting behind pbkdf2 calls',
  },
];

const matches = (pattern: string | RegExp, text: string) =>
  typeof pattern === 'string' ? text === pattern : pattern.test(text);

/** The first number in a cell: `347,196` → 347196, `4.1 ms` → 4.1, `1.42x` → 1.42. */
export function cellNumber(text: string): number | undefined {
  const m = /-?\d[\d,]*(?:\.\d+)?/.exec(text);
  return m ? Number(m[0].replaceAll(',', '')) : undefined;
}

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const plain = (s: string) => s.replace(/`/g, '');

function format(n: number): string {
  if (n >= 10_000) return Math.round(n).toLocaleString('en-US');
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return String(Number(n.toPrecision(3)));
}

const palette = ['var(--vp-c-brand-1)', 'var(--vp-c-indigo-3, #a8b1ff)'];

/** A horizontal bar chart: one group per row, one bar per series. */
export function barChart(
  spec: ChartSpec,
  labels: string[],
  seriesNames: string[],
  values: (number | undefined)[][],
): string {
  const width = 640;
  const labelWidth = 130;
  const valueWidth = 70;
  const barHeight = 14;
  const gap = 3;
  const groupGap = 10;
  const top = seriesNames.length > 1 ? 28 : 8;
  const plot = width - labelWidth - valueWidth;
  const max = Math.max(...values.flat().filter((v): v is number => v !== undefined), 0) || 1;
  const groupHeight = seriesNames.length * (barHeight + gap) - gap;
  const height = top + labels.length * (groupHeight + groupGap) + 22;
  const parts: string[] = [];
  if (seriesNames.length > 1) {
    seriesNames.forEach((name, i) => {
      const x = labelWidth + i * 150;
      parts.push(
        `<rect x="${x}" y="6" width="12" height="12" rx="2" fill="${palette[i % palette.length]}"/>`,
        `<text x="${x + 18}" y="16" class="chart-legend">${escapeXml(plain(name))}</text>`,
      );
    });
  }
  labels.forEach((label, row) => {
    const y0 = top + row * (groupHeight + groupGap);
    const emphasis = /offthread|\/fib\?|^`?\/fib`?$/.test(label) ? ' chart-ours' : '';
    parts.push(
      `<text x="${labelWidth - 8}" y="${y0 + groupHeight / 2 + 4}" text-anchor="end" class="chart-label${emphasis}">${escapeXml(plain(label))}</text>`,
    );
    seriesNames.forEach((_, i) => {
      const v = values[row][i];
      const y = y0 + i * (barHeight + gap);
      const w = v === undefined ? 0 : Math.max(1, (v / max) * plot);
      parts.push(
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" rx="2" fill="${palette[i % palette.length]}"/>`,
        `<text x="${labelWidth + w + 6}" y="${y + barHeight - 3}" class="chart-value">${v === undefined ? 'n/a' : format(v)}</text>`,
      );
    });
  });
  parts.push(
    `<text x="${labelWidth}" y="${height - 6}" class="chart-axis">${escapeXml(spec.unit)}, ${spec.better} is better</text>`,
  );
  const summary = labels
    .map(
      (l, r) =>
        `${plain(l)}: ${values[r].map((v) => (v === undefined ? 'n/a' : format(v))).join(' / ')}`,
    )
    .join('; ');
  return (
    `<svg class="chart-svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(`${spec.title} (${spec.unit}, ${spec.better} is better): ${summary}`)}" xmlns="http://www.w3.org/2000/svg">` +
    `<title>${escapeXml(spec.title)}</title>${parts.join('')}</svg>`
  );
}

interface Table {
  headers: string[];
  rows: string[][];
}

/** Cells of the table whose `table_open` is at `start`, as their Markdown source text. */
function readTable(tokens: Token[], start: number): { table: Table; end: number } {
  const table: Table = { headers: [], rows: [] };
  let row: string[] | undefined;
  let i = start;
  for (; i < tokens.length && tokens[i].type !== 'table_close'; i++) {
    const t = tokens[i];
    if (t.type === 'tr_open') row = [];
    else if (t.type === 'inline' && row) row.push(t.content.trim());
    else if (t.type === 'tr_close' && row) {
      if (table.headers.length === 0) table.headers = row;
      else table.rows.push(row);
      row = undefined;
    }
  }
  return { table, end: i };
}

/** The chart HTML for a table, or undefined when no spec matches it. */
export function chartsFor(heading: string, table: Table): string[] {
  const out: string[] = [];
  for (const spec of chartSpecs) {
    if (spec.heading && !spec.heading.test(heading)) continue;
    if (!matches(spec.labelColumn, table.headers[0] ?? '')) continue;
    const columns = spec.series.map((s) => table.headers.findIndex((h) => matches(s, h)));
    if (columns.some((c) => c < 0) || table.rows.length === 0) continue;
    const values = table.rows.map((r) => columns.map((c) => cellNumber(r[c] ?? '')));
    if (values.flat().every((v) => v === undefined)) continue;
    const svg = barChart(
      spec,
      table.rows.map((r) => r[0]),
      columns.map((c) => table.headers[c]),
      values,
    );
    out.push(
      `<figure class="chart"><figcaption>${escapeXml(spec.title)}</figcaption>${svg}</figure>\n`,
    );
  }
  return out;
}

/** markdown-it plugin: a chart after every table a spec matches. */
export function chartsPlugin(md: MarkdownIt): void {
  md.core.ruler.push('offthread-charts', (state) => {
    const tokens = state.tokens;
    let heading = '';
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.type === 'heading_open') heading = tokens[i + 1]?.content ?? '';
      if (t.type !== 'table_open') continue;
      const { table, end } = readTable(tokens, i);
      const charts = chartsFor(heading, table);
      if (charts.length === 0) continue;
      const block = new state.Token('html_block', '', 0);
      block.content = `<div class="charts">${charts.join('')}</div>\n`;
      tokens.splice(end + 1, 0, block);
      i = end + 1;
    }
  });
}
