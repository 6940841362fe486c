/**
 * Turns the collected metrics into the per-scenario tables, the target checks and
 * RESULTS.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fmt, ratio, renderTable } from './table.mjs';

/**
 * @typedef {{ metrics?: Record<string, number>, error?: string, failures?: string[], warnings?: string[] }} Outcome
 * @typedef {Record<string, Record<string, Outcome>>} Results  scenario -> runner -> outcome
 * @typedef {{ name: string, version: string, config: string }} Meta
 */

/**
 * @param {Results} results
 * @param {string} scenario
 * @param {string} runner
 * @param {string} field
 */
const get = (results, scenario, runner, field) => results[scenario]?.[runner]?.metrics?.[field];

/**
 * @param {Results} results
 * @param {string[]} runners  runner ids in table order
 * @param {Record<string, Meta>} metas
 * @param {Record<string, any>} params  scenario parameters used
 * @returns {Array<{ title: string, note: string, table: string }>}
 */
export function buildSections(results, runners, metas, params) {
  const sections = [];
  /**
   * One row per runner; `cells` gets the runner's metric getter and returns the cells after the name.
   * @param {string} scenario
   * @param {string[]} headers
   * @param {(m: (field: string, runner?: string) => number | undefined) => string[]} cells
   */
  const table = (scenario, headers, cells) => {
    const rows = runners
      .filter((r) => results[scenario]?.[r])
      .map((r) => {
        const outcome = results[scenario][r];
        if (outcome.error) {
          return [metas[r].name, 'error', ...headers.slice(2).map(() => '')];
        }
        return [
          metas[r].name,
          ...cells((field, runner = r) => get(results, scenario, runner, field)),
        ];
      });
    return renderTable(headers, rows);
  };
  const off = 'offthread';

  if (results.burst) {
    const p = params.burst;
    sections.push({
      title: `1. Tiny-task burst throughput (higher is better)`,
      note: `${fmt(p.tasks, 0)} \`x => x + 1\` tasks submitted at once, then awaited together; median of ${p.reps} bursts per process after a ${fmt(p.warmupTasks, 0)}-task warm-up. "÷ X" = this row's tasks/s divided by X's.`,
      table: table(
        'burst',
        ['library', 'tasks/s', 'burst (ms)', '÷ offthread', '÷ poolifier', '÷ postMessage'],
        (m) => [
          fmt(m('tasksPerSec'), 0),
          fmt(m('ms'), 0),
          ratio(m('tasksPerSec'), m('tasksPerSec', off)),
          ratio(m('tasksPerSec'), m('tasksPerSec', 'poolifier')),
          ratio(m('tasksPerSec'), m('tasksPerSec', 'postmessage')),
        ],
      ),
    });
  }

  if (results.latency) {
    const p = params.latency;
    sections.push({
      title: '2. Sequential round-trip latency (lower is better)',
      note: `${fmt(p.calls, 0)} trivial tasks, each awaited before the next is sent; per-call times in µs; median over ${p.reps} runs per process of each statistic. "÷ X" compares the mean.`,
      table: table(
        'latency',
        ['library', 'mean (µs)', 'p50 (µs)', 'p99 (µs)', '÷ offthread', '÷ piscina'],
        (m) => [
          fmt(m('meanUs'), 1),
          fmt(m('p50Us'), 1),
          fmt(m('p99Us'), 1),
          ratio(m('meanUs'), m('meanUs', off)),
          ratio(m('meanUs'), m('meanUs', 'piscina')),
        ],
      ),
    });
  }

  if (results.cpu) {
    const p = params.cpu;
    sections.push({
      title: '3. CPU-bound speed-up on 2 threads (higher is better)',
      note: `${p.tasks} tasks of \`fib(${p.n})\` (pure JS; "task (ms)" is one task's inline time in that process) run one after another on the main thread vs all at once on the pool; speed-up = inline time / pool time, median of ${p.reps} pairs per process. 2.00x is the ceiling on 2 cores, reachable only when nothing else runs: "load avg" is the machine's 1-minute load average when that measurement ended (this process contributes up to 2; more means other processes took CPU time from the pool).`,
      table: table(
        'cpu',
        ['library', 'task (ms)', 'inline (ms)', 'pool (ms)', 'speed-up', '÷ offthread', 'load avg'],
        (m) => [
          fmt(m('taskMs'), 1),
          fmt(m('inlineMs'), 0),
          fmt(m('poolMs'), 0),
          `${fmt(m('speedup'), 2)}x`,
          ratio(m('speedup'), m('speedup', off)),
          fmt(m('load1'), 2),
        ],
      ),
    });
  }

  if (results.transfer) {
    const p = params.transfer;
    const mb = p.bytes / (1024 * 1024);
    sections.push({
      title: `4. ${fmt(mb, 0)} MB ArrayBuffer round trip (lower is better)`,
      note: `The buffer is sent with a transfer list and the task returns it transferred (where the library can: poolifier's worker posts results without a transfer list, so its return trip is a structured-clone copy). ${p.roundTrips} round trips per process after ${p.warmupRoundTrips} warm-up ones, ${p.rounds} processes; median of each statistic over the processes. "÷ X" compares p50.`,
      table: table(
        'transfer',
        ['library', 'mean (ms)', 'p50 (ms)', 'max (ms)', '÷ offthread', '÷ postMessage'],
        (m) => [
          fmt(m('meanMs'), 3),
          fmt(m('p50Ms'), 3),
          fmt(m('maxMs'), 3),
          ratio(m('p50Ms'), m('p50Ms', off)),
          ratio(m('p50Ms'), m('p50Ms', 'postmessage')),
        ],
      ),
    });
  }

  if (results.startup || results.memory) {
    const rows = runners
      .filter((r) => results.startup?.[r] || results.memory?.[r])
      .map((r) => {
        const s = (/** @type {string} */ f, rr = r) => get(results, 'startup', rr, f);
        const mem = (/** @type {string} */ f, rr = r) => get(results, 'memory', rr, f);
        const sErr = results.startup?.[r]?.error;
        const mErr = results.memory?.[r]?.error;
        return [
          metas[r].name,
          sErr ? 'error' : fmt(s('coldMs'), 1),
          sErr ? '' : fmt(s('warmMs'), 1),
          sErr ? '' : ratio(s('warmMs'), s('warmMs', off)),
          mErr ? 'error' : fmt(mem('rssMB'), 1),
          mErr ? '' : ratio(mem('rssMB'), mem('rssMB', off)),
        ];
      });
    sections.push({
      title: '5. Startup time and idle memory (lower is better)',
      note: `Startup = construct the pool and await the first task's result (2 threads). "first" is the first pool in a fresh process (library code just loaded); "again" is the median of the next ${params.startup.reps - 1} pools in the same process (module and disk caches warm). Idle memory = process RSS after creating the pool, running 4 tasks, idling ${params.memory.idleMs} ms and a full GC, minus RSS before the library was imported; median of ${params.memory.rounds} fresh processes.`,
      table: renderTable(
        ['library', 'first (ms)', 'again (ms)', '÷ offthread', 'idle RSS Δ (MB)', '÷ offthread'],
        rows,
      ),
    });
  }
  return sections;
}

/**
 * The issue's targets, checked against the measured numbers.
 * @param {Results} results
 */
export function buildTargets(results) {
  const m = (/** @type {string} */ s, /** @type {string} */ r, /** @type {string} */ f) =>
    get(results, s, r, f);
  /** @type {Array<[string, number | undefined, (v: number) => boolean, (v: number) => string]>} */
  const checks = [
    [
      'burst throughput ≥ 3x poolifier',
      div(m('burst', 'offthread', 'tasksPerSec'), m('burst', 'poolifier', 'tasksPerSec')),
      (v) => v >= 3,
      (v) => `${v.toFixed(2)}x`,
    ],
    [
      'burst throughput ≥ bare postMessage',
      div(m('burst', 'offthread', 'tasksPerSec'), m('burst', 'postmessage', 'tasksPerSec')),
      (v) => v >= 1,
      (v) => `${v.toFixed(2)}x`,
    ],
    [
      'round trip (mean) ≤ piscina',
      div(m('latency', 'offthread', 'meanUs'), m('latency', 'piscina', 'meanUs')),
      (v) => v <= 1,
      (v) => `${v.toFixed(2)}x piscina's`,
    ],
    [
      'round trip (p50) ≤ piscina',
      div(m('latency', 'offthread', 'p50Us'), m('latency', 'piscina', 'p50Us')),
      (v) => v <= 1,
      (v) => `${v.toFixed(2)}x piscina's`,
    ],
    [
      // Two bare workers fed by hand are the ceiling for 2 threads; a pool may cost 5% of it.
      'CPU-bound speed-up within 5% of two bare workers',
      div(m('cpu', 'offthread', 'speedup'), m('cpu', 'postmessage', 'speedup')),
      (v) => v >= 0.95,
      (v) => `${v.toFixed(3)}x bare`,
    ],
    [
      '16 MB transfer round trip well under 1 ms (p50)',
      m('transfer', 'offthread', 'p50Ms'),
      (v) => v < 1,
      (v) => `${v.toFixed(3)} ms`,
    ],
  ];
  const rows = checks.map(([name, v, ok, show]) =>
    v === undefined || !Number.isFinite(v)
      ? [name, 'not measured', '-']
      : [name, show(v), ok(v) ? 'yes' : 'NO'],
  );
  return renderTable(['offthread target', 'measured', 'met'], rows, ['l', 'r', 'l']);
}

/**
 * @param {number | undefined} a
 * @param {number | undefined} b
 */
function div(a, b) {
  return a === undefined || b === undefined ? undefined : a / b;
}

/** A one-paragraph description of this machine and Node. */
export function describeMachine() {
  const cpus = os.cpus();
  const model = cpus[0]?.model?.trim() ?? 'unknown CPU';
  const speed = cpus[0]?.speed ? ` @ ${cpus[0].speed} MHz` : '';
  return {
    cpu: `${cpus.length} x ${model}${speed}`,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    parallelism: os.availableParallelism(),
  };
}

/**
 * @param {object} input
 * @param {ReturnType<typeof buildSections>} input.sections
 * @param {string} input.targets
 * @param {Results} input.results
 * @param {string[]} input.runners
 * @param {Record<string, Meta>} input.metas
 * @param {ReturnType<typeof describeMachine>} input.machine
 * @param {{ start: number[], end: number[] }} input.load
 * @param {Date} input.date
 * @param {number} input.durationS
 * @param {boolean} input.quick
 */
export function renderMarkdown({
  sections,
  targets,
  results,
  runners,
  metas,
  machine,
  load,
  date,
  durationS,
  quick,
}) {
  const la = (/** @type {number[]} */ xs) => xs.map((x) => x.toFixed(2)).join(' / ');
  const errors = [];
  for (const [scenario, byRunner] of Object.entries(results)) {
    for (const [r, outcome] of Object.entries(byRunner)) {
      for (const failure of outcome.failures ?? []) {
        const kept = outcome.error ? 'no result' : 'the other rounds gave the result';
        const text = failure.split('\n').slice(0, 8).join('\n  ');
        errors.push(
          `- **${metas[r].name}**, ${scenario} (${kept}):\n\n  \`\`\`\n  ${text}\n  \`\`\``,
        );
      }
      for (const warning of outcome.warnings ?? []) {
        errors.push(`- **${metas[r].name}**, ${scenario}: ${warning}`);
      }
    }
  }
  return `# offthread benchmarks: results

_Generated by \`pnpm bench\` (\`node --expose-gc src/run.mjs${quick ? ' --quick' : ''}\`) on ${date.toISOString()}; the run took ${Math.round(durationS)} s. Do not edit by hand: run the benchmark again._${quick ? '\n\n**This is a quick smoke run with small sizes; its numbers are not comparable to a full run.**' : ''}

## Machine

${renderTable(
  ['', ''],
  [
    ['CPU', machine.cpu],
    ['available parallelism', String(machine.parallelism)],
    ['memory', machine.memory],
    ['OS', machine.os],
    ['Node.js', machine.node],
    ['load average (1/5/15 min) at start / end', `${la(load.start)} ; ${la(load.end)}`],
  ],
  ['l', 'l'],
)}

The machine was shared: other engineers ran builds and tests on it during the run, so absolute numbers wobble by tens of percent between runs. Every number is a median of several repetitions, and the libraries were measured interleaved (one after another, round after round), so the noise falls on all of them alike; compare the ratios more than the absolutes.${
    Math.max(load.start[0], load.end[0]) > 1.5
      ? `

**The machine was busy during this run** (1-minute load average up to ${Math.max(load.start[0], load.end[0]).toFixed(1)} on ${machine.parallelism} cores, this benchmark included): pools had to share the cores with other processes, so the CPU-bound speed-ups in particular are below what an idle machine gives, and tail latencies are inflated.`
      : ''
  }

## Libraries

${renderTable(
  ['library', 'version', 'configuration (all with 2 threads)'],
  runners.map((r) => [metas[r].name, metas[r].version, metas[r].config]),
  ['l', 'l', 'l'],
)}

## Targets (from issue 2)

${targets}

${[
  ...sections.map((s) => `## ${s.title}\n\n${s.note}\n\n${s.table}`),
  ...(errors.length ? [`## Errors and warnings\n\n${errors.join('\n')}`] : []),
].join('\n\n')}

## How measured

- Every (library, scenario) pair runs in its own fresh \`node --expose-gc\` child process, so no library shares a heap, a JIT profile or threads with another; the driver (\`src/run.mjs\`) runs them in rounds, in a rotating order, and takes the median of each metric over the rounds. A child that fails or exceeds its time limit is reported as an error instead of stopping the run.
- All pools use 2 threads, started before measuring (the scenarios start with a warm-up that runs 4 tiny tasks, which also loads the task module in each thread), and a queue that cannot overflow. Every library runs the same task bodies (\`src/tasks/shared.mjs\`) from a task file written in its own convention (\`src/tasks/<library>.mjs\`); results are checked.
- \`postMessage\` is the hand-written floor: two bare \`Worker\`s, tasks dealt round-robin, one \`postMessage\` per task and one per result, a FIFO of resolvers per worker and nothing else (no queue limits, errors, timeouts or stats).
- Burst: all N promises are created in a synchronous loop, then \`Promise.all\`; tasks/s = N / wall time. Latency: \`performance.now()\` around each awaited call. CPU: the inline run and the pool run alternate in the same process, so both see the same machine load. Transfer: wall time of \`await echo(buf)\` where \`buf\` goes out in the transfer list and comes back transferred; the byte length and content are checked every round. Idle memory: \`process.memoryUsage().rss\` after \`gc()\` (only the main thread's heap can be collected from outside; worker heaps are what they are after a short idle).
- Sizes: ${quick ? 'quick mode (see the notes above each table).' : 'see the notes above each table; `--quick` shrinks them for a smoke run.'}
${changeNotes()}`;
}

/**
 * Before/after measurements of changes to the core (benchmarks/CHANGES.md, written by hand when
 * a change could cost speed), carried into every generated RESULTS.md so a re-run keeps them.
 */
function changeNotes() {
  const file = new URL('../CHANGES.md', import.meta.url);
  if (!existsSync(file)) return '';
  return `\n${readFileSync(file, 'utf8').trim()}\n`;
}
