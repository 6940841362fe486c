import type { Sample } from '../types.js';
import { diagnose } from '../verdict.js';
import type { CliArgs } from './args.js';
import { KIND_OF } from './doctor.js';
import { ChildRun, type RunState } from './runner.js';
import { longTimeout } from './timers.js';

const bar = (share: number, width = 20) => {
  const n = Math.max(0, Math.min(width, Math.round(share * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
};

/** One frame of the live view. */
export function renderWatch(
  state: RunState,
  target: string[],
  elapsedMs: number,
  appLines: string[],
): string {
  const s: Sample | undefined = state.samples[state.samples.length - 1];
  const out: string[] = [];
  out.push(
    `offthread watch · ${target.join(' ')} · pid ${state.hello?.pid ?? '?'} · ${(elapsedMs / 1000).toFixed(0)}s · Ctrl+C to stop`,
  );
  out.push('');
  if (!s) {
    out.push('waiting for the first sample…');
  } else {
    const d = s.eventLoop.delay;
    const tp = s.threadpool;
    out.push(
      `event loop   ELU ${bar(s.eventLoop.utilization)} ${Math.round(s.eventLoop.utilization * 100)}%`,
    );
    out.push(
      `             delay p50 ${d.p50} ms · p99 ${d.p99} ms · max ${d.max} ms · blocks ${s.eventLoop.blockCount} (total ${state.blocks.length})`,
    );
    const last = state.blocks[state.blocks.length - 1];
    if (last) {
      const f = last.stack[0];
      out.push(
        `             last block ${Math.round(last.duration)} ms${f ? ` in ${f.functionName} (${f.file}:${f.line})` : ''}`,
      );
    }
    out.push(
      `thread pool  busy ${bar(tp.utilization)} ${Math.round(tp.utilization * 100)}% · size ${tp.size} · in flight ${tp.inFlight.total} · queued ${tp.queued.total} (peak ${tp.peak.queued})`,
    );
    out.push(
      `             wait p99 ${tp.wait.p99} ms · canary p99 ${tp.probe.p99} ms · saturation ${Math.round(tp.saturation * 100)}% · recommended ${tp.recommendedSize}`,
    );
    out.push(
      `process      CPU ${Math.round(s.process.cpu.percent)}% · RSS ${Math.round(s.process.memory.rss / 1048576)} MB · heap ${Math.round(s.process.memory.heapUsed / 1048576)} MB`,
    );
  }
  out.push('');
  out.push('app output (last lines):');
  for (const l of appLines.slice(-5)) out.push(`  ${l.slice(0, 160)}`);
  return out.join('\n');
}

/** `offthread watch`: a live view refreshed every second. Returns the exit code. */
export async function watch(args: CliArgs): Promise<number> {
  const appLines: string[] = [];
  const collect = (chunk: string) => {
    for (const l of chunk.split('\n')) if (l.trim()) appLines.push(l);
    if (appLines.length > 50) appLines.splice(0, appLines.length - 50);
  };
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
    onStdout: collect,
    onStderr: collect,
  });
  const tty = Boolean(process.stdout.isTTY);
  const draw = () => {
    const frame = renderWatch(run.state, args.target, Date.now() - run.startedAt, appLines);
    // On a terminal redraw in place; elsewhere append frames separated by a rule.
    process.stdout.write(tty ? `\x1b[H\x1b[2J${frame}\n` : `${frame}\n${'-'.repeat(40)}\n`);
  };
  const timer = setInterval(draw, 1000);
  const stopAt = args.duration ? longTimeout(() => void run.stop(), args.duration) : null;
  const onSigint = () => void run.stop();
  process.on('SIGINT', onSigint);
  try {
    const exit = await run.exited;
    draw();
    if (!run.stopRequested && exit.code !== 0) {
      process.stderr.write(
        `offthread: "${args.target.join(' ')}" exited with ${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`}\n`,
      );
      return 3;
    }
    if (args.failOn.length > 0) {
      const st = run.state;
      if (!st.sinceStart) {
        process.stderr.write('offthread: --fail-on: no measurements, the command ended too soon\n');
        return 0;
      }
      const verdict = diagnose(
        {
          sinceStart: st.sinceStart,
          profile: st.profile ?? undefined,
          samples: st.samples,
          blocks: st.blocks,
        },
        { blockThreshold: args.blockThreshold },
      );
      const failed = args.failOn.filter((f) => verdict.findings.some((x) => x.kind === KIND_OF[f]));
      if (failed.length > 0) {
        process.stderr.write(
          `offthread: failing because of --fail-on ${failed.join(',')}: ${verdict.summary}\n`,
        );
        return 1;
      }
    }
    return 0;
  } finally {
    clearInterval(timer);
    stopAt?.clear();
    process.off('SIGINT', onSigint);
  }
}
