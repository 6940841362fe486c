import type { BaselineComparison } from './baseline.js';
import type { MonitorOptions } from './options.js';
import type { Block, ProfileStats, Sample } from './types.js';
import { blockCulprits, formatFrame, type Verdict } from './verdict.js';

/** Summary of the autocannon run of `offthread doctor --load`. */
export interface LoadSummary {
  url: string;
  connections: number;
  duration: number;
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** Everything `offthread doctor` measured in one run; what `--json` writes. */
export interface RunReport {
  version: 1;
  /** The command and its arguments. */
  command: string[];
  pid: number | null;
  node: string | null;
  startedAt: number;
  /** Run length, ms. */
  duration: number;
  /** Why the run ended. */
  endReason: 'exit' | 'duration' | 'load-finished' | 'sigint';
  exit: { code: number | null; signal: string | null } | null;
  options: Required<MonitorOptions> | null;
  load: LoadSummary | null;
  /** One entry per sample interval. */
  samples: Sample[];
  /** Every block of the run. */
  blocks: Block[];
  sinceStart: Sample | null;
  profile: ProfileStats | null;
  verdict: Verdict;
  /** With `--baseline`: the comparison with the earlier report. */
  baseline?: BaselineComparison;
}

const ms = (n: number) => `${n >= 100 ? Math.round(n) : Math.round(n * 10) / 10} ms`;
const mb = (n: number) => `${Math.round(n / 1048576)} MB`;
const pct = (n: number) => `${Math.round(n * 100)}%`;

/** Options of {@link formatReport}. */
export interface FormatReportOptions {
  /**
   * Colours text (e.g. `node:util.styleText`); the CLI passes one only when the terminal has
   * colours and NO_COLOR is unset. Defaults to plain text.
   */
  style?: (format: any, text: string) => string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Render a run report as the plain-text verdict `offthread doctor` prints. */
export function formatReport(report: RunReport, options: FormatReportOptions = {}): string {
  const st = options.style ?? ((_f: unknown, t: string) => t);
  const lines: string[] = [];
  const v = report.verdict;
  lines.push(`offthread doctor: ${report.command.join(' ')}`);
  const meta = [
    report.pid ? `pid ${report.pid}` : null,
    report.node ? `Node ${report.node}` : null,
    `ran ${(report.duration / 1000).toFixed(1)} s (ended: ${report.endReason})`,
  ].filter(Boolean);
  lines.push(`  ${meta.join(' · ')}`);
  if (report.load) {
    const l = report.load;
    lines.push(
      `  load: ${l.connections} connections for ${l.duration} s on ${l.url}: ${Math.round(l.requests.average)} req/s, latency p50 ${l.latency.p50} ms, p99 ${l.latency.p99} ms${l.errors ? `, ${l.errors} errors` : ''}${l.non2xx ? `, ${l.non2xx} non-2xx` : ''}`,
    );
  }
  lines.push('');
  lines.push(
    v.kind === 'healthy'
      ? `Verdict: ${st(['bold', 'green'], '✔ HEALTHY')}`
      : v.kind === 'insufficient-data'
        ? `Verdict: ${st(['bold', 'yellow'], '? TOO LITTLE DATA')}`
        : `Verdict: ${st(['bold', 'red'], `✖ ${v.findings.map((f) => f.title.toUpperCase()).join(' + ')}`)}`,
  );
  for (const f of v.findings) {
    lines.push('', st('bold', f.title));
    for (const e of f.evidence) lines.push(`  • ${e}`);
    lines.push(`  ${st('cyan', '→')} ${f.recommendation}`);
    if (f.kind === 'event-loop-blocked') {
      const top = blockCulprits(report.blocks)[0];
      if (top) {
        lines.push('  stack of the blocking code:');
        for (const fr of top.stack.slice(0, 8)) lines.push(`      at ${formatFrame(fr)}`);
      }
    }
  }
  const s = report.sinceStart;
  if (s) {
    const el = s.eventLoop;
    const tp = s.threadpool;
    lines.push('', st('bold', 'Measurements (whole run)'));
    lines.push(
      `  event loop   delay p50 ${ms(el.delay.p50)} · p90 ${ms(el.delay.p90)} · p99 ${ms(el.delay.p99)} · max ${ms(el.delay.max)} · ELU ${pct(el.utilization)} · ${plural(el.blockCount, 'block')} (${ms(el.blockedTime)})`,
    );
    if (tp.enabled) {
      lines.push(
        `  thread pool  size ${tp.size} · peak in flight ${tp.peak.inFlight} · peak queued ${tp.peak.queued} · wait p50 ${ms(tp.wait.p50)} · p99 ${ms(tp.wait.p99)} · saturation ${pct(tp.saturation)} · canary p99 ${ms(tp.probe.p99)} · recommended size ${tp.recommendedSize}`,
      );
    }
    for (const p of s.pools ?? []) {
      const hot = p.hotFunctions[0];
      lines.push(
        `  pool ${p.name.padEnd(7)} ${plural(p.threads, 'thread')} (max ${p.maxThreads}) · busy ${pct(p.busyShare)} · peak queued ${p.queued} · wait p50 ${ms(p.wait.p50)} · p99 ${ms(p.wait.p99)} · run p50 ${ms(p.run.p50)} · ${Math.round(p.tasksPerSecond)} tasks/s${hot ? ` · hot ${hot.frame.functionName} (${pct(hot.share)})` : ''}`,
      );
    }
    lines.push(
      `  process      CPU ${Math.round(s.process.cpu.percent)}% of a core · RSS ${mb(s.process.memory.rss)} · heap ${mb(s.process.memory.heapUsed)} / ${mb(s.process.memory.heapTotal)}`,
    );
  } else {
    lines.push('', 'No measurements: the command ended before the monitor reported.');
  }
  if (v.kind === 'healthy' || v.kind === 'insufficient-data') lines.push('', `  ${v.summary}`);
  return `${lines.join('\n')}\n`;
}
