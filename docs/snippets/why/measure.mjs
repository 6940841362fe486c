// Measures the numbers quoted on the "Why offthread" page, on whatever machine runs it.
//   node docs/snippets/why/measure.mjs            full run (about 20 s on 2 cores)
//   node docs/snippets/why/measure.mjs --quick    smaller sizes, used by the docs test
//   node docs/snippets/why/measure.mjs --write    full run, and write
// docs/measurements/why.md
// Each experiment runs in a fresh child process, because UV_THREADPOOL_SIZE is read once,
// when
// the libuv thread pool first starts.
import { spawnSync } from 'node:child_process';
import { pbkdf2, pbkdf2Sync } from 'node:crypto';
import { readFile as readFileAsync } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pool } from '@offthread/core';
import { fib } from './fib.mjs';

const quick = process.argv.includes('--quick');
const here = fileURLToPath(import.meta.url);
const experiment = process.argv[2];

const ms = (t) => Math.round(t * 10) / 10;

/** Blocking: how late does a 10 ms timer fire while the main thread computes? */
async function blocking() {
  const n = quick ? 27 : 32;
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  await new Promise((r) => setTimeout(r, 100)); // baseline samples
  const t0 = performance.now();
  fib(n);
  const took = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 50));
  h.disable();
  return {
    task: `fib(${n})`,
    taskMs: ms(took),
    maxLoopDelayMs: ms(h.max / 1e6),
  };
}

/**
 * libuv pool: 4 slow pbkdf2 calls occupy the threads; how long does a tiny fs read wait?
 */
async function threadpool() {
  const iterations = quick ? 50_000 : 200_000;
  const jobs = Number(process.env.JOBS ?? 4);
  const t0 = performance.now();
  const hashes = Array.from(
    { length: jobs },
    () => new Promise((r) => pbkdf2('secret', 'salt', iterations, 64, 'sha512', r)),
  );
  // Give the hashes a head start so they hold the threads, then read a small file.
  await new Promise((r) => setImmediate(r));
  const r0 = performance.now();
  await readFileAsync(here);
  const readMs = performance.now() - r0;
  await Promise.all(hashes);
  const totalMs = performance.now() - t0;
  const one = performance.now();
  pbkdf2Sync('secret', 'salt', iterations, 64, 'sha512');
  return {
    size: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    jobs,
    oneHashMs: ms(performance.now() - one),
    allHashesMs: ms(totalMs),
    smallReadMs: ms(readMs),
  };
}

/** Worker threads: the same CPU-bound tasks inline and on a pool of one thread per core. */
async function speedup() {
  const n = quick ? 25 : 30;
  const tasks = quick ? 4 : 16;
  const threads = availableParallelism();
  const pool = new Pool({
    filename: new URL('./fib-task.mjs', import.meta.url),
    minThreads: threads,
    maxThreads: threads,
  });
  await pool.run(1); // threads started and module loaded: measure steady state
  const t0 = performance.now();
  for (let i = 0; i < tasks; i++) fib(n);
  const inline = performance.now() - t0;
  const t1 = performance.now();
  await Promise.all(Array.from({ length: tasks }, () => pool.run(n)));
  const pooled = performance.now() - t1;
  // Round trip of a task that does nothing: the fixed price of leaving the main thread.
  const rounds = quick ? 200 : 2000;
  const t2 = performance.now();
  for (let i = 0; i < rounds; i++) await pool.run(0);
  const roundTripUs = ((performance.now() - t2) / rounds) * 1000;
  // Structured clone: the price of sending data. 100k small objects, about 5 MB as JSON.
  const rows = Array.from({ length: quick ? 10_000 : 100_000 }, (_, i) => ({
    id: i,
    name: `row ${i}`,
    score: i / 7,
  }));
  const c0 = performance.now();
  structuredClone(rows);
  const cloneMs = performance.now() - c0;
  await pool.close();
  return {
    threads,
    tasks: `${tasks} x fib(${n})`,
    inlineMs: ms(inline),
    poolMs: ms(pooled),
    speedup: Math.round((inline / pooled) * 100) / 100,
    emptyTaskRoundTripUs: Math.round(roundTripUs),
    clone100kRowsMs: ms(cloneMs),
    rows: rows.length,
  };
}

/** @type {Record<string, () => Promise<unknown>>} */
const experiments = { blocking, threadpool, speedup };

if (experiment && experiments[experiment]) {
  // Child: run one experiment, print JSON.
  console.log(JSON.stringify(await experiments[experiment]()));
} else {
  const run = (name, env = {}) => {
    const child = spawnSync(
      process.execPath,
      [here, name, ...(quick ? ['--quick'] : [])],
      {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      },
    );
    if (child.status !== 0) throw new Error(`${name} failed: ${child.stderr}`);
    return JSON.parse(child.stdout);
  };
  const results = {
    node: process.version,
    cores: availableParallelism(),
    blocking: run('blocking'),
    threadpool: [1, 2, 4, 8].map((size) =>
      run('threadpool', { UV_THREADPOOL_SIZE: String(size) }),
    ),
    speedup: run('speedup'),
  };
  console.log(JSON.stringify(results, null, 2));
  if (process.argv.includes('--write')) {
    const { writeFileSync, mkdirSync } = await import('node:fs');
    const dir = new URL('../../measurements/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL('why.md', dir), await markdown(results));
  }
}

/** The tables the "Why offthread" page includes. */
async function markdown({ node, cores, blocking: b, threadpool: t, speedup: s }) {
  // loadavg() always returns the 1, 5 and 15 minute averages.
  const [load1 = 0] = (await import('node:os')).loadavg();
  const load = load1.toFixed(1);
  const when =
    `_Measured ${new Date().toISOString().slice(0, 10)} on ${cores} cores ` +
    `(load average ${load} at the end: a busy machine makes every number noisier) ` +
    `with Node ${node} by \`node docs/snippets/why/measure.mjs --write\`._`;
  return [
    '<!-- #region blocking -->',
    '| work on the main thread | took | a 10 ms timer fired up to |',
    '| --- | ---: | ---: |',
    `| \`${b.task}\` | ${b.taskMs} ms | ${b.maxLoopDelayMs} ms late |`,
    '',
    when,
    '<!-- #endregion blocking -->',
    '<!-- #region threadpool -->',
    `| UV_THREADPOOL_SIZE | one \`pbkdf2\` alone | ${t[0].jobs} \`pbkdf2\` at once ` +
      '| a small `fs.readFile` issued meanwhile |',
    '| ---: | ---: | ---: | ---: |',
    ...t.map(
      (r) =>
        `| ${r.size} | ${r.oneHashMs} ms | ${r.allHashesMs} ms | ${r.smallReadMs} ms |`,
    ),
    '',
    when,
    '<!-- #endregion threadpool -->',
    '<!-- #region speedup -->',
    '| measurement | result |',
    '| --- | ---: |',
    `| ${s.tasks}, one after another on the main thread | ${s.inlineMs} ms |`,
    `| the same on a pool of ${s.threads} threads | ${s.poolMs} ms (${s.speedup}x) |`,
    `| round trip of a task that does nothing | ${s.emptyTaskRoundTripUs} µs |`,
    `| \`structuredClone\` of ${s.rows.toLocaleString('en-US')} small objects ` +
      `| ${s.clone100kRowsMs} ms |`,
    '',
    when,
    '<!-- #endregion speedup -->',
    '',
  ].join('\n');
}
