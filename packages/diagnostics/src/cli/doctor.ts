import {
  accessSync,
  constants,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { compareToBaseline, formatComparison } from '../baseline.js';
import { DiagnosticsError, DiagnosticsErrorCode } from '../errors.js';
import type { MergedProfile } from '../flame.js';
import { renderHtmlReport } from '../html.js';
import { formatReport, type LoadSummary, type RunReport } from '../report.js';
import { diagnose } from '../verdict.js';
import type { CliArgs } from './args.js';
import { parseLoad, type RunningLoad, startLoad } from './load.js';
import { Progress } from './progress.js';
import { ChildRun } from './runner.js';
import { styler } from './style.js';
import { longTimeout } from './timers.js';

export const KIND_OF: Record<string, string> = {
  'event-loop': 'event-loop-blocked',
  threadpool: 'threadpool-saturated',
  pool: 'pool-saturated',
  gc: 'gc-pressure',
  cpu: 'cpu-bound',
};

const cannotWrite = (flag: string, path: string, why: string) =>
  new DiagnosticsError(
    DiagnosticsErrorCode.USAGE,
    `${flag}: cannot write "${path}": ${why}. Give a file in a directory you can write to${flag === '--json' ? ', or "-" for stdout' : ''}.`,
  );

/** Fail before the run, not after it, when a report file cannot be written. */
export function checkWritable(flag: string, path: string): void {
  const abs = resolve(path);
  try {
    if (statSync(abs).isDirectory()) throw cannotWrite(flag, path, 'it is a directory');
    accessSync(abs, constants.W_OK);
    return;
  } catch (err) {
    if (err instanceof DiagnosticsError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw cannotWrite(flag, path, (err as NodeJS.ErrnoException).code ?? String(err));
    }
  }
  try {
    if (!statSync(dirname(abs)).isDirectory()) throw new Error('ENOTDIR');
    accessSync(dirname(abs), constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw cannotWrite(
      flag,
      path,
      code === 'ENOENT' ? `the directory ${dirname(abs)} does not exist` : `${code}`,
    );
  }
}

function writeReportFile(flag: string, path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (err) {
    throw cannotWrite(flag, path, (err as NodeJS.ErrnoException).code ?? String(err));
  }
}

/** `offthread doctor`: returns the process exit code. */
export async function doctor(args: CliArgs): Promise<number> {
  if (args.json && args.json !== '-') checkWritable('--json', args.json);
  if (args.html) checkWritable('--html', args.html);
  if (args.cpuprofile) checkWritable('--cpuprofile', args.cpuprofile);
  // The flame graphs of --html need the profile too: into a private temp file unless asked for.
  const profileDir =
    args.html && !args.cpuprofile ? mkdtempSync(join(tmpdir(), 'offthread-')) : null;
  const profileFile = args.cpuprofile
    ? resolve(args.cpuprofile)
    : profileDir
      ? join(profileDir, 'run.cpuprofile')
      : null;
  let baseline: RunReport | null = null;
  if (args.baseline) {
    try {
      baseline = JSON.parse(readFileSync(args.baseline, 'utf8')) as RunReport;
      if (baseline?.version !== 1 || !('sinceStart' in baseline)) throw new Error('not a report');
    } catch (err) {
      throw new DiagnosticsError(
        DiagnosticsErrorCode.USAGE,
        `--baseline: cannot read "${args.baseline}" as an offthread doctor --json report (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Write one with --json first.`,
      );
    }
  }
  const loadSpec = args.load !== null ? parseLoad(args.load) : null;
  // With `--json -`, stdout carries the JSON alone: the app's stdout and the text go to stderr.
  const out = args.json === '-' ? process.stderr : process.stdout;
  const progress = new Progress(process.stderr, Date.now(), args.duration, !args.quiet);
  let endReason: RunReport['endReason'] = 'exit';
  let load = null as RunningLoad | null;
  let loadSummary: LoadSummary | null = null;
  let loadError: unknown = null;
  let failure: DiagnosticsError | null = null;
  const timers: { clear(): void }[] = [];

  const run = new ChildRun({
    target: args.target,
    monitor: {
      sampleInterval: args.sampleInterval,
      blockThreshold: args.blockThreshold,
      // A diagnosis run buys precision with CPU: the profiler runs from the start, so every
      // block (the first one too) is timed and attributed from 1 ms samples, every thread-pool
      // request is counted, every request's route is known, and every GC is observed.
      profileBlocks: true,
      gcDutyCycle: 1,
      profilerInterval: 1000,
      routes: true,
      threadpoolCounting: 'always',
    },
    stdout: 'pipe',
    env: profileFile ? { OFFTHREAD_DIAG_CPUPROFILE: profileFile } : {},
    onStdout: (chunk) => progress.passThrough(out, chunk),
    onStderr: (chunk) => progress.passThrough(process.stderr, chunk),
    onRecord: (rec) => {
      if (rec.type === 'sample') progress.latest = rec.sample;
      if (rec.type === 'hello')
        progress.phase = loadSpec ? 'waiting for the app to listen' : 'running';
      if (rec.type === 'listening' && loadSpec && !load) {
        const remaining = args.duration
          ? Math.min(
              86_400,
              Math.max(1, (args.duration - (Date.now() - run.startedAt)) / 1000 - 0.5),
            )
          : 10;
        progress.phase = `load on port ${rec.port}`;
        load = startLoad(loadSpec, rec.port, rec.address, Math.round(remaining * 10) / 10);
        load.done.then(
          (summary) => {
            loadSummary = summary;
            end('load-finished');
          },
          (err) => {
            loadError = err;
            end('load-finished');
          },
        );
      }
    },
  });
  progress.start();
  progress.note(`running ${args.target.join(' ')} · Ctrl+C stops it and prints the report`);

  let ending = false;
  function end(reason: RunReport['endReason']): void {
    if (ending) return;
    ending = true;
    endReason = reason;
    progress.phase = 'stopping';
    load?.stop();
    void run.stop();
  }

  if (args.duration) timers.push(longTimeout(() => end('duration'), args.duration));
  if (loadSpec) {
    timers.push(
      longTimeout(() => {
        if (!run.state.listening && !run.exitInfo) {
          failure = new DiagnosticsError(
            DiagnosticsErrorCode.NEVER_LISTENED,
            `"${args.target.join(' ')}" did not listen on a TCP port within ${args.listenTimeout / 1000} s, so no load was sent; it was stopped. Check that it starts an HTTP server (server.listen) and that it is a Node.js process (a launcher such as npm is fine), or raise --listen-timeout.`,
          );
          end('duration');
        }
      }, args.listenTimeout),
    );
  }
  const onSigint = () => {
    if (ending) {
      // Second Ctrl+C: stop waiting.
      void run.stop(0);
      return;
    }
    progress.note('SIGINT: stopping the command and writing the report (Ctrl+C again to force)');
    end('sigint');
  };
  process.on('SIGINT', onSigint);

  let exit: Awaited<typeof run.exited>;
  try {
    exit = await run.exited;
  } catch (err) {
    progress.stop();
    process.off('SIGINT', onSigint);
    for (const t of timers) t.clear();
    throw err;
  } finally {
    for (const t of timers) t.clear();
  }
  process.off('SIGINT', onSigint);
  load?.stop();
  if (load && !loadSummary && !loadError) {
    // The app exited during the load: collect what autocannon measured so far.
    loadSummary = await Promise.race([
      load.done.catch(() => null),
      new Promise<null>((r) => setTimeout(() => r(null), 2000).unref()),
    ]);
  }
  progress.stop();

  if (failure) throw failure;
  if (!run.stopRequested) {
    const ranFor = ((Date.now() - run.startedAt) / 1000).toFixed(1);
    const tail = exit.stderrTail.length
      ? `\nLast lines of its stderr:\n  ${exit.stderrTail.join('\n  ')}`
      : '';
    if (exit.code !== 0) {
      throw new DiagnosticsError(
        DiagnosticsErrorCode.EXITED_EARLY,
        `"${args.target.join(' ')}" exited early with ${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`} after ${ranFor} s.${tail}`,
        { exitCode: exit.code },
      );
    }
    if (loadSpec && !run.state.listening) {
      throw new DiagnosticsError(
        DiagnosticsErrorCode.EXITED_EARLY,
        `"${args.target.join(' ')}" exited (code 0) after ${ranFor} s without listening on a TCP port, so no load was sent.${tail}`,
        { exitCode: 0 },
      );
    }
  }
  if (loadError) {
    progress.note(`load generator failed: ${(loadError as Error).message}`);
  }

  const st = run.state;
  const report: RunReport = {
    version: 1,
    command: args.target,
    pid: st.hello?.pid ?? run.pid ?? null,
    node: st.hello?.node ?? null,
    startedAt: run.startedAt,
    duration: Date.now() - run.startedAt,
    endReason,
    exit: { code: exit.code, signal: exit.signal },
    options: st.hello?.options ?? null,
    load: loadSummary,
    samples: st.samples,
    blocks: st.blocks,
    sinceStart: st.sinceStart,
    profile: st.profile,
    verdict: st.sinceStart
      ? diagnose(
          {
            sinceStart: st.sinceStart,
            profile: st.profile ?? undefined,
            samples: st.samples,
            blocks: st.blocks,
          },
          { blockThreshold: args.blockThreshold },
        )
      : {
          kind: 'insufficient-data',
          findings: [],
          summary: 'too little data: the command ended before the monitor reported',
        },
  };
  if (!st.hello) {
    process.stderr.write(
      'offthread: the monitor never reported from the command. Is it a Node.js (>= 20.19) process started directly (not through a shell or npm)?\n',
    );
  }
  if (baseline) report.baseline = compareToBaseline(report, baseline, args.baselineThreshold);
  out.write(`\n${formatReport(report, { style: styler(out) })}`);
  if (report.baseline) out.write(`\n${formatComparison(report.baseline)}`);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (args.json === '-') process.stdout.write(json);
  else if (args.json) writeReportFile('--json', args.json, json);
  let profile: MergedProfile | null = null;
  if (profileFile) {
    try {
      profile = JSON.parse(readFileSync(profileFile, 'utf8')) as MergedProfile;
    } catch {
      if (args.cpuprofile) {
        progress.note(
          `--cpuprofile: the app wrote no profile to ${args.cpuprofile} (did it run under Node.js?)`,
        );
      }
    }
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  }
  if (args.html) {
    writeReportFile(
      '--html',
      args.html,
      renderHtmlReport(report, { profile: profile ?? undefined }),
    );
  }
  const files = [
    args.json === '-' ? null : args.json,
    args.html,
    profile ? args.cpuprofile : null,
  ].filter(Boolean);
  if (files.length) out.write(`\nWrote ${files.join(' and ')}\n`);
  const failed = args.failOn.filter((f) =>
    report.verdict.findings.some((x) => x.kind === KIND_OF[f]),
  );
  if (report.baseline?.regressed) {
    const which = report.baseline.metrics.filter((m) => m.regressed).map((m) => m.name);
    process.stderr.write(`offthread: regressed against --baseline: ${which.join(', ')}\n`);
    return 1;
  }
  if (failed.length > 0) {
    process.stderr.write(`offthread: failing because of --fail-on ${failed.join(',')}\n`);
    return 1;
  }
  return 0;
}
