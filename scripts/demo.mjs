#!/usr/bin/env node
// The pool in one minute: the same CPU-heavy jobs run on the main thread, then through an
// @offthread/core pool, while a 10 ms heartbeat (think: your /health endpoint) measures how
// late the event loop answers.
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Pool } from '@offthread/core';
import crunch from './demo-tasks.mjs';

const JOBS = 16;

function calibrate() {
  // Find an iteration count that takes ~100 ms here, so the demo means the same on any machine.
  let iterations = 1_000_000;
  for (;;) {
    const t0 = performance.now();
    crunch(iterations);
    const ms = performance.now() - t0;
    if (ms > 20) return Math.round((iterations * 100) / ms);
    iterations *= 4;
  }
}

async function measure(label, runJobs) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let beats = 0;
  const heartbeat = setInterval(() => beats++, 10);
  histogram.enable();
  const t0 = performance.now();
  await runJobs();
  const wall = performance.now() - t0;
  histogram.disable();
  clearInterval(heartbeat);
  process.stderr.write(`  ✔ ${label}\n`);
  return {
    label,
    wall,
    p99: histogram.percentile(99) / 1e6,
    max: histogram.max / 1e6,
    beats,
    expectedBeats: Math.floor(wall / 10),
  };
}

const iterations = calibrate();
process.stderr.write(
  `offthread demo: ${JOBS} jobs of ~100 ms CPU each, ${availableParallelism()} cores\n`,
);

const inline = await measure('main thread', async () => {
  for (let i = 0; i < JOBS; i++) {
    crunch(iterations);
    await new Promise((resolve) => setImmediate(resolve)); // like separate requests
  }
});

const pool = new Pool({ filename: new URL('./demo-tasks.mjs', import.meta.url) });
await pool.run(1); // threads warm, as in a running server
const offThread = await measure(`offthread pool (${pool.options.maxThreads} threads)`, () =>
  Promise.all(Array.from({ length: JOBS }, () => pool.run(iterations))),
);
const stats = pool.stats();
await pool.close();

const rows = [inline, offThread].map((r) => [
  r.label,
  `${(r.wall / 1000).toFixed(2)} s`,
  `${r.p99.toFixed(1)} ms`,
  `${r.max.toFixed(1)} ms`,
  `${r.beats} / ${r.expectedBeats}`,
]);
const header = [
  'where the jobs ran',
  'wall time',
  'loop delay p99',
  'loop delay max',
  'heartbeats',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
for (const row of rows) console.log(line(row));
console.log(
  `\nOn the main thread every job froze the event loop for ~${inline.max.toFixed(0)} ms: no request, timer or I/O callback could run.`,
);
console.log(
  `Through the pool the loop stayed responsive (max delay ${offThread.max.toFixed(1)} ms) and the jobs ran ${(inline.wall / offThread.wall).toFixed(2)}x faster on ${pool.options.maxThreads} threads (pool p50 run time ${stats.runTime.p50.toFixed(0)} ms).`,
);
