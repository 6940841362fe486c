import { type MergedProfile, renderIcicle } from './flame.js';
import type { RunReport } from './report.js';
import type { Sample, StackFrame } from './types.js';
import { formatFrame } from './verdict.js';

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

interface Series {
  name: string;
  color: string;
  values: number[];
}

/** Round a step up to 1, 2 or 5 times a power of ten, so ticks read 0, 50, 100, not 37.4. */
function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** A line for a reference value across a chart, e.g. the whole run's p99. */
interface RefLine {
  name: string;
  color: string;
  value: number;
}

/** A line chart as inline SVG; x is seconds since the run started. */
function chart(
  title: string,
  unit: string,
  xs: number[],
  series: Series[],
  fixedMax?: number,
  refs: RefLine[] = [],
): string {
  const W = 560;
  const H = 190;
  const L = 48;
  const B = 34;
  const T = 10;
  const R = 10;
  const all = [...series.flatMap((s) => s.values), ...refs.map((r) => r.value)];
  // An all-zero series still gets a readable 0..4 axis.
  const top = Math.max(0, ...all) || 4;
  const yStep = niceStep((fixedMax ?? top) / 4);
  const max = fixedMax ?? Math.max(yStep, Math.ceil(top / yStep) * yStep);
  const xMaxRaw = Math.max(1, ...xs);
  const xStep = niceStep(xMaxRaw / 6);
  const xMax = Math.ceil(xMaxRaw / xStep) * xStep;
  const x = (v: number) => L + (v / xMax) * (W - L - R);
  const y = (v: number) => T + (1 - Math.min(v, max) / max) * (H - T - B);
  const fmt = (v: number) =>
    v >= 10 || Number.isInteger(v) ? Math.round(v) : Math.round(v * 100) / 100;
  const grid: string[] = [];
  for (let v = 0; v <= max + 1e-9; v += yStep) {
    grid.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${esc(fmt(v))}</text>`,
    );
  }
  // Time axis: ticks at round seconds, and its title.
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    grid.push(
      `<line x1="${x(v)}" x2="${x(v)}" y1="${H - B}" y2="${H - B + 4}" class="axis"/><text x="${x(v)}" y="${H - B + 15}" text-anchor="middle">${esc(fmt(v))}</text>`,
    );
  }
  grid.push(
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="axis"/><text x="${(L + W - R) / 2}" y="${H - 3}" text-anchor="middle">time since start (s)</text>`,
  );
  const refLines = refs
    .map(
      (r) =>
        `<line x1="${L}" x2="${W - R}" y1="${y(r.value).toFixed(1)}" y2="${y(r.value).toFixed(1)}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="6 4" class="ref"/><text x="${W - R - 4}" y="${(y(r.value) - 4).toFixed(1)}" text-anchor="end" style="fill:${r.color}">${esc(r.name)} ${esc(fmt(r.value))}</text>`,
    )
    .join('');
  const lines = series
    .map((s) => {
      if (s.values.length === 0) return '';
      const pts = s.values
        .map((v, i) => `${x(xs[i] ?? 0).toFixed(1)},${y(v).toFixed(1)}`)
        .join(' ');
      const dots =
        s.values.length <= 60
          ? s.values
              .map(
                (v, i) =>
                  `<circle cx="${x(xs[i] ?? 0).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.2" fill="${s.color}"/>`,
              )
              .join('')
          : '';
      return `<polyline class="series" points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>${dots}`;
    })
    .join('');
  const legend = series
    .map((s) => `<span class="key"><i style="background:${s.color}"></i>${esc(s.name)}</span>`)
    .join('');
  return `<figure class="chart"><figcaption>${esc(title)} <small>(${esc(unit)})</small></figcaption>
<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${grid.join('')}${lines}${refLines}</svg>
<div class="legend">${legend}</div></figure>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#5b6475}.verdict{padding:12px 16px;border-radius:8px;margin:16px 0;font-weight:600}
.bad{background:#fdecec;border:1px solid #f2b8b8}.good{background:#e9f7ef;border:1px solid #b6e2c6}
.unsure{background:#fff8e1;border:1px solid #f0d98c}
svg.flame{display:block;background:#fff;border:1px solid #e3e6eb;border-radius:6px;font:11px ui-monospace,monospace}
svg.flame text{fill:#1d1f24;pointer-events:none}.muted{color:#5b6475;font-size:12px}
.finding{background:#fff;border:1px solid #e3e6eb;border-radius:8px;padding:10px 16px;margin:10px 0}
.finding h3{margin:4px 0 6px;font-size:15px}.rec{color:#1b5e9e}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.chart{background:#fff;border:1px solid #e3e6eb;border-radius:8px;margin:0;padding:10px}
.chart figcaption{font-weight:600;margin-bottom:4px}.chart svg{max-width:100%;height:auto;display:block}
.chart text{font-size:10px;fill:#6b7385}.grid{stroke:#eceef2}.axis{stroke:#9aa1ad}
.count{display:inline-block;background:#eef1f6;border-radius:10px;padding:0 8px;font-size:12px;margin-left:6px}
.legend{font-size:12px;color:#4a5262}.key{margin-right:14px}.key i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
table{border-collapse:collapse;background:#fff;font-size:13px}td,th{border:1px solid #e3e6eb;padding:4px 8px;text-align:left}
pre{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:8px;overflow:auto;font-size:12px;margin:4px 0 12px}
`;

/**
 * Render a run report as one self-contained HTML page (inline CSS and SVG, no scripts, no
 * network): verdict, event-loop delay and utilization over time, thread-pool queue and wait
 * over time, and every block with its stack.
 */
export function renderHtmlReport(
  report: RunReport,
  options: { profile?: MergedProfile } = {},
): string {
  const samples: Sample[] = report.samples;
  const t0 = samples[0]?.start ?? report.startedAt;
  const xs = samples.map((s) => (s.end - t0) / 1000);
  const v = report.verdict;
  const s = report.sinceStart;
  const findings = v.findings
    .map(
      (f) =>
        `<div class="finding"><h3>${esc(f.title)}</h3><ul>${f.evidence.map((e) => `<li>${esc(e)}</li>`).join('')}</ul><p class="rec">→ ${esc(f.recommendation)}</p></div>`,
    )
    .join('');
  const charts = [
    chart(
      'Event-loop delay',
      'ms',
      xs,
      [
        { name: 'p50', color: '#4c9be8', values: samples.map((x) => x.eventLoop.delay.p50) },
        { name: 'p99', color: '#e8833a', values: samples.map((x) => x.eventLoop.delay.p99) },
        { name: 'max', color: '#d64545', values: samples.map((x) => x.eventLoop.delay.max) },
      ],
      undefined,
      s ? [{ name: 'whole-run p99', color: '#b5541a', value: s.eventLoop.delay.p99 }] : [],
    ),
    chart(
      'Event-loop utilization',
      '%',
      xs,
      [
        {
          name: 'ELU',
          color: '#7a5cd6',
          values: samples.map((x) => x.eventLoop.utilization * 100),
        },
      ],
      100,
    ),
    chart('Thread-pool queue', 'requests', xs, [
      {
        name: 'peak queued',
        color: '#d64545',
        values: samples.map((x) => x.threadpool.peak.queued),
      },
      {
        name: 'peak in flight',
        color: '#4c9be8',
        values: samples.map((x) => x.threadpool.peak.inFlight),
      },
    ]),
    chart('Thread-pool wait', 'ms', xs, [
      { name: 'wait p99', color: '#e8833a', values: samples.map((x) => x.threadpool.wait.p99) },
      { name: 'canary p99', color: '#2e9e6a', values: samples.map((x) => x.threadpool.probe.p99) },
    ]),
  ].join('');
  // Identical stacks are one entry with a count: ten blocks in the same function are one story.
  const groups = new Map<string, { blocks: typeof report.blocks; stack: StackFrame[] }>();
  for (const b of report.blocks) {
    const key = b.stack.length
      ? b.stack.map((f) => `${f.functionName} ${f.url}:${f.line}:${f.column}`).join('|')
      : '(none)';
    const g = groups.get(key) ?? { blocks: [], stack: b.stack };
    g.blocks.push(b);
    groups.set(key, g);
  }
  const blocks = [...groups.values()]
    .sort(
      (a, b) =>
        b.blocks.reduce((n, x) => n + x.duration, 0) - a.blocks.reduce((n, x) => n + x.duration, 0),
    )
    .slice(0, 20)
    .map((g) => {
      const longest = g.blocks.reduce((m, x) => (x.duration > m.duration ? x : m));
      const total = g.blocks.reduce((n, x) => n + x.duration, 0);
      const routes = [
        ...new Set(g.blocks.flatMap((x) => (x.route ? [`${x.route.method} ${x.route.path}`] : []))),
      ];
      return `<h3>${g.stack[0] ? esc(g.stack[0].functionName) : 'no stack'}<span class="count">×${g.blocks.length}</span> <small>longest ${esc(Math.round(longest.duration))} ms at +${esc(((longest.start - t0) / 1000).toFixed(1))} s, ${esc(Math.round(total))} ms in total${routes.length ? `; ${esc(routes.join(', '))}` : ''}</small></h3>
<pre>${
        g.stack.length
          ? g.stack
              .slice(0, 12)
              .map((f) => `at ${esc(formatFrame(f))}`)
              .join('\n')
          : '(no JavaScript sampled during these blocks: the profiler was not running yet (it starts at the first block unless profileBlocks: true), or the thread was descheduled, in native code or GC)'
      }</pre>`;
    })
    .join('');
  const prof = options.profile;
  let flames = '';
  if (prof && prof.samples.length > 0) {
    const offset = prof.offthreadClockOffsetMs;
    flames += `<h2>Flame graph: main thread, whole run</h2>${renderIcicle(prof, { title: 'whole run' })}`;
    if (offset !== undefined) {
      for (const b of [...report.blocks].sort((a, x) => x.duration - a.duration).slice(0, 3)) {
        const fromUs = (b.start - offset) * 1000;
        flames += `<h3>Block of ${esc(Math.round(b.duration))} ms at +${esc(((b.start - t0) / 1000).toFixed(1))} s${b.route ? ` (${esc(b.route.method)} ${esc(b.route.path)})` : ''}</h3>${renderIcicle(prof, { fromUs, toUs: fromUs + b.duration * 1000, title: 'block' })}`;
      }
    }
  }
  const tp = s?.threadpool;
  const el = s?.eventLoop;
  const table = s
    ? `<table><tr><th>Metric</th><th>Value</th></tr>
<tr><td>Event-loop delay p50 / p99 / max</td><td>${el!.delay.p50} / ${el!.delay.p99} / ${el!.delay.max} ms</td></tr>
<tr><td>Event-loop utilization</td><td>${Math.round(el!.utilization * 100)}%</td></tr>
<tr><td>Blocks</td><td>${el!.blockCount} (${Math.round(el!.blockedTime)} ms)</td></tr>
<tr><td>Thread pool size / recommended</td><td>${tp!.size} / ${tp!.recommendedSize}</td></tr>
<tr><td>Thread-pool peak in flight / queued</td><td>${tp!.peak.inFlight} / ${tp!.peak.queued}</td></tr>
<tr><td>Queue wait p50 / p99 / max</td><td>${tp!.wait.p50} / ${tp!.wait.p99} / ${tp!.wait.max} ms</td></tr>
<tr><td>Saturation</td><td>${Math.round(tp!.saturation * 100)}%</td></tr>
<tr><td>CPU</td><td>${Math.round(s.process.cpu.percent)}% of a core</td></tr>
<tr><td>RSS / heap used</td><td>${Math.round(s.process.memory.rss / 1048576)} / ${Math.round(s.process.memory.heapUsed / 1048576)} MB</td></tr>
</table>`
    : '<p>No measurements.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>offthread doctor: ${esc(report.command.join(' '))}</title><style>${CSS}</style></head>
<body>
<h1>offthread doctor</h1>
<div class="meta"><code>${esc(report.command.join(' '))}</code> · ${esc(report.node ?? '')} · ran ${(report.duration / 1000).toFixed(1)} s · ${esc(new Date(report.startedAt).toISOString())}${report.load ? ` · load ${report.load.connections} connections, ${Math.round(report.load.requests.average)} req/s` : ''}</div>
<div class="verdict ${v.kind === 'healthy' ? 'good' : v.kind === 'insufficient-data' ? 'unsure' : 'bad'}">${v.kind === 'healthy' ? '✔ Healthy' : v.kind === 'insufficient-data' ? '? Too little data' : `✖ ${esc(v.findings.map((f) => f.title).join(' + '))}`}</div>
${findings}
<h2>Over time</h2>
<div class="charts">${charts}</div>
<h2>Whole run</h2>
${table}
${flames}
<h2>Blocks (${report.blocks.length})</h2>
${blocks || '<p>No event-loop blocks.</p>'}
</body></html>
`;
}
