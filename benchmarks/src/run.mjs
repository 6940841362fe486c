/**
 * Benchmark driver: `node --expose-gc src/run.mjs [--quick] [--only=a,b] [--scenarios=x,y]
 * [--out=FILE | --no-write] [--timeout=SECONDS per child]`.
 *
 * Runs every (scenario, library) pair in a fresh child process (child.mjs), in rounds with a
 * rotating library order, prints one table per scenario and writes RESULTS.md.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { buildSections, buildTargets, describeMachine, renderMarkdown } from './report.mjs';
import { medianOfFields } from './stats.mjs';
import { fmt } from './table.mjs';

/** Runner ids (src/runners/<id>.mjs), in table order. */
const RUNNERS = ['offthread', 'piscina', 'tinypool', 'workerpool', 'poolifier', 'postmessage'];

/**
 * Per scenario: parameters, how many fresh processes per library (`rounds`) and a time limit
 * per process. Sized so a full run takes about 3 minutes on a 2-core machine.
 */
const PLANS = {
  full: {
    burst: { tasks: 100_000, warmupTasks: 20_000, reps: 1, rounds: 2, timeoutS: 90 },
    latency: { calls: 5_000, warmupCalls: 1_000, reps: 3, rounds: 2, timeoutS: 30 },
    cpu: { tasks: 16, n: 32, reps: 3, rounds: 2, timeoutS: 30 },
    transfer: {
      bytes: 16 * 1024 * 1024,
      roundTrips: 20,
      warmupRoundTrips: 3,
      rounds: 2,
      timeoutS: 30,
    },
    startup: { reps: 6, rounds: 2, timeoutS: 30 },
    memory: { idleMs: 500, rounds: 3, timeoutS: 30 },
  },
  quick: {
    burst: { tasks: 10_000, warmupTasks: 2_000, reps: 1, rounds: 1, timeoutS: 30 },
    latency: { calls: 500, warmupCalls: 100, reps: 1, rounds: 1, timeoutS: 30 },
    cpu: { tasks: 4, n: 30, reps: 1, rounds: 1, timeoutS: 30 },
    transfer: {
      bytes: 16 * 1024 * 1024,
      roundTrips: 5,
      warmupRoundTrips: 1,
      rounds: 1,
      timeoutS: 30,
    },
    startup: { reps: 2, rounds: 1, timeoutS: 30 },
    memory: { idleMs: 100, rounds: 1, timeoutS: 30 },
  },
};

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    scenarios: { type: 'string' },
    out: { type: 'string' },
    timeout: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});

const plan = args.quick ? PLANS.quick : PLANS.full;
const runners = args.only ? args.only.split(',').map((s) => s.trim().toLowerCase()) : RUNNERS;
const scenarioNames = args.scenarios
  ? args.scenarios.split(',').map((s) => s.trim())
  : Object.keys(plan);
for (const r of runners) if (!RUNNERS.includes(r)) throw new Error(`unknown library ${r}`);
for (const s of scenarioNames) if (!(s in plan)) throw new Error(`unknown scenario ${s}`);

const CHILD = new URL('./child.mjs', import.meta.url);

/**
 * Runs one measurement in a fresh process.
 * @param {string} runner
 * @param {string} scenario
 * @param {object} params
 * @param {number} timeoutS
 * @returns {Promise<{ metrics?: Record<string, number>, error?: string, warnings?: string[] }>}
 */
function runChild(runner, scenario, params, timeoutS) {
  return new Promise((resolve) => {
    const child = fork(CHILD, [runner, scenario, JSON.stringify(params)], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let output = '';
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    /** @type {{ ok: boolean, metrics?: Record<string, number>, error?: string, warnings?: string[] } | undefined} */
    let message;
    child.on('message', (m) => {
      message = /** @type {any} */ (m);
    });
    let timedOut = false;
    /** @type {NodeJS.Timeout | undefined} */
    let killTimer;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
    }, timeoutS * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      const warnings = message?.warnings ?? [];
      if (message?.ok) resolve({ metrics: message.metrics, warnings });
      else if (message) {
        resolve({ error: `${message.error}${output ? `\n${output}` : ''}`, warnings });
      } else {
        const why = timedOut
          ? `timed out after ${timeoutS} s`
          : `exited with code ${code} (signal ${signal}) before reporting`;
        resolve({ error: `${why}${output ? `: ${output.trim()}` : ''}` });
      }
    });
  });
}

/** @param {Record<string, number>} m */
function summary(m) {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(' ');
}

/**
 * A runner's description. Loading it here also loads its library; a library that cannot load
 * (say the core is not built) still gets a row, and its children report the error.
 * @param {string} r
 */
async function loadMeta(r) {
  try {
    return (await import(`./runners/${r}.mjs`)).meta;
  } catch (err) {
    const message = /** @type {Error} */ (err).message?.split('\n')[0];
    return { name: r, version: 'n/a', config: `cannot be loaded: ${message}` };
  }
}
const metas = Object.fromEntries(
  await Promise.all(runners.map(async (r) => [r, await loadMeta(r)])),
);
const machine = describeMachine();
const loadStart = os.loadavg();
const started = performance.now();
const date = new Date();
console.log(
  `offthread benchmarks${args.quick ? ' (quick)' : ''}: ${machine.cpu}, ${machine.memory}, Node ${machine.node}`,
);
if (loadStart[0] > 1) {
  console.log(
    `  note: the 1-minute load average is ${loadStart[0].toFixed(2)} before starting; other processes will take CPU time from the pools (the CPU-bound speed-up suffers most).`,
  );
}

/** @type {import('./report.mjs').Results} */
const results = {};
for (const scenario of scenarioNames) {
  const { rounds, timeoutS, ...params } = /** @type {any} */ (plan)[scenario];
  /** @type {Record<string, Array<{ metrics?: Record<string, number>, error?: string }>>} */
  const outcomes = Object.fromEntries(runners.map((r) => [r, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so no library always runs first (or right after the heaviest one).
    const order = runners.map((_, i) => runners[(i + round) % runners.length]);
    for (const runner of order) {
      const t = performance.now();
      const limit = args.timeout ? Number(args.timeout) : timeoutS;
      const outcome = await runChild(runner, scenario, params, limit);
      outcomes[runner].push(outcome);
      const took = ((performance.now() - t) / 1000).toFixed(1);
      const what = outcome.metrics
        ? summary(outcome.metrics)
        : `ERROR ${outcome.error?.split('\n')[0]}`;
      const warned = outcome.warnings?.length ? `  WARNING ${outcome.warnings.join('; ')}` : '';
      console.log(
        `  ${scenario.padEnd(8)} ${metas[runner].name.padEnd(11)} ${round + 1}/${rounds}  ${what}  (${took} s)${warned}`,
      );
    }
  }
  results[scenario] = {};
  for (const runner of runners) {
    const ok = outcomes[runner].filter((o) => o.metrics).map((o) => /** @type {any} */ (o.metrics));
    const failed = outcomes[runner].find((o) => o.error);
    const failures = outcomes[runner].flatMap((o) => (o.error ? [o.error] : []));
    const warnings = outcomes[runner].flatMap((o, i) =>
      (o.warnings ?? []).map((w) => `round ${i + 1}: ${w}`),
    );
    results[scenario][runner] = ok.length
      ? { metrics: medianOfFields(ok), failures, warnings }
      : { error: failed?.error ?? 'no result', failures, warnings };
    if (failed) console.error(`\n${metas[runner].name} / ${scenario} failed:\n${failed.error}\n`);
  }
}

const durationS = (performance.now() - started) / 1000;
const sections = buildSections(results, runners, metas, plan);
const targets = buildTargets(results);

console.log('');
for (const s of sections) console.log(`## ${s.title}\n\n${s.table}\n`);
console.log(`## Targets\n\n${targets}\n`);
console.log(`(${Math.round(durationS)} s)`);

const out =
  args.out ??
  (args.quick || args['no-write'] ? undefined : new URL('../RESULTS.md', import.meta.url));
if (out && !args['no-write']) {
  const markdown = renderMarkdown({
    sections,
    targets,
    results,
    runners,
    metas,
    machine,
    load: { start: loadStart, end: os.loadavg() },
    date,
    durationS,
    quick: args.quick,
  });
  writeFileSync(out, markdown);
  console.log(`Wrote ${out instanceof URL ? out.pathname : out}`);
}
