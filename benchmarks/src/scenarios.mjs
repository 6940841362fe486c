/**
 * The measured scenarios. Each runs inside a fresh child process (see child.mjs), gets a
 * function that loads one runner, and returns flat numeric metrics.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { mean, median, medianOfFields, percentile } from './stats.mjs';
import { cpu as cpuInline } from './tasks/shared.mjs';

/** @typedef {import('./runners/types.mjs').PoolHandle} PoolHandle */
/** @typedef {() => Promise<{ create: import('./runners/types.mjs').CreatePool }>} LoadRunner */

const THREADS = 2;

/**
 * What the scenario is doing right now; the child prints it when the driver stops a run that
 * has exceeded its time limit, so a hang can be pinned on a step (and a library).
 */
export const progress = { phase: 'starting' };

/** Things worth reporting that did not stop the measurement; sent to the driver. */
/** @type {string[]} */
export const warnings = [];

const CLOSE_LIMIT_MS = 3000;

/**
 * Closes a pool, but gives up waiting after CLOSE_LIMIT_MS: closing is not measured, and one
 * library's close() that never settles (seen with poolifier's destroy() right after start-up)
 * should cost a warning in the report, not the measurement. The child exits when done anyway.
 * @param {PoolHandle} pool
 */
async function closePool(pool) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(resolve, CLOSE_LIMIT_MS, false);
  });
  const settled = await Promise.race([pool.close().then(() => true), limit]);
  clearTimeout(timer);
  if (!settled) {
    warnings.push(
      `close() had not settled ${CLOSE_LIMIT_MS / 1000} s after it was called (during: ${progress.phase})`,
    );
  }
}
const gc = /** @type {() => void} */ (globalThis.gc ?? (() => {}));

/** Several full collections, with turns of the event loop between them for finalizers. */
async function settleGc() {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
}

/**
 * @param {LoadRunner} load
 * @param {(pool: PoolHandle) => Promise<T>} body
 * @template T
 */
async function withPool(load, body) {
  progress.phase = 'loading the library';
  const { create } = await load();
  progress.phase = 'creating the pool';
  const pool = await create({ threads: THREADS });
  try {
    // Every pool gets the same warm-up: threads started and the task module loaded.
    progress.phase = 'warm-up tasks';
    await Promise.all(Array.from({ length: THREADS * 2 }, (_, i) => pool.tiny(i)));
    progress.phase = 'measuring';
    return await body(pool);
  } finally {
    progress.phase = 'closing the pool';
    await closePool(pool);
    progress.phase = 'closed';
  }
}

/**
 * @param {PoolHandle} pool
 * @param {number} n
 */
async function burstOnce(pool, n) {
  const promises = new Array(n);
  const start = performance.now();
  for (let i = 0; i < n; i++) promises[i] = pool.tiny(i);
  const results = await Promise.all(promises);
  const ms = performance.now() - start;
  if (results[n - 1] !== n || results[0] !== 1) throw new Error('burst: wrong results');
  return ms;
}

/**
 * @param {PoolHandle} pool
 * @param {number} n
 */
async function latencyOnce(pool, n) {
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const r = await pool.tiny(i);
    samples[i] = (performance.now() - start) * 1000;
    if (r !== i + 1) throw new Error('latency: wrong result');
  }
  const xs = Array.from(samples);
  return { meanUs: mean(xs), p50Us: percentile(xs, 50), p99Us: percentile(xs, 99) };
}

/** @type {Record<string, (load: LoadRunner, p: any) => Promise<Record<string, number>>>} */
export const scenarios = {
  /** 1. Tiny-task burst throughput. */
  async burst(load, { tasks, warmupTasks, reps }) {
    return withPool(load, async (pool) => {
      await burstOnce(pool, warmupTasks);
      const ms = [];
      for (let r = 0; r < reps; r++) {
        await settleGc();
        ms.push(await burstOnce(pool, tasks));
      }
      const m = median(ms);
      return { tasksPerSec: (tasks / m) * 1000, ms: m };
    });
  },

  /** 2. Sequential round-trip latency of a trivial task. */
  async latency(load, { calls, warmupCalls, reps }) {
    return withPool(load, async (pool) => {
      await latencyOnce(pool, warmupCalls);
      const runs = [];
      for (let r = 0; r < reps; r++) {
        await settleGc();
        runs.push(await latencyOnce(pool, calls));
      }
      return medianOfFields(runs);
    });
  },

  /** 3. CPU-bound speed-up: the same tasks on the pool vs one after another inline. */
  async cpu(load, { tasks, n, reps }) {
    return withPool(load, async (pool) => {
      // Warm the JIT on both sides.
      for (let i = 0; i < 2; i++) cpuInline(n);
      await Promise.all(Array.from({ length: THREADS * 2 }, () => pool.cpu(n)));
      const runs = [];
      for (let r = 0; r < reps; r++) {
        let start = performance.now();
        let expected = 0;
        for (let i = 0; i < tasks; i++) expected = cpuInline(n);
        const inlineMs = performance.now() - start;
        start = performance.now();
        const results = await Promise.all(Array.from({ length: tasks }, () => pool.cpu(n)));
        const poolMs = performance.now() - start;
        if (results.some((x) => x !== expected)) throw new Error('cpu: wrong result');
        runs.push({ inlineMs, poolMs, speedup: inlineMs / poolMs, taskMs: inlineMs / tasks });
      }
      // The 1-minute load average says how much of the second core other processes took.
      return { ...medianOfFields(runs), load1: os.loadavg()[0] };
    });
  },

  /** 4. Transfer a large ArrayBuffer to a worker and back. */
  async transfer(load, { bytes, roundTrips, warmupRoundTrips }) {
    return withPool(load, async (pool) => {
      let buf = new ArrayBuffer(bytes);
      new Uint8Array(buf).fill(7);
      const samples = [];
      let copied = 0;
      for (let r = 0; r < warmupRoundTrips + roundTrips; r++) {
        const sent = buf;
        const start = performance.now();
        buf = await pool.echo(sent);
        const ms = performance.now() - start;
        if (buf.byteLength !== bytes) throw new Error(`transfer: got ${buf.byteLength} bytes back`);
        // A detached original means the library really transferred on the way out.
        if (sent.byteLength !== 0) copied++;
        if (r >= warmupRoundTrips) samples.push(ms);
      }
      const view = new Uint8Array(buf);
      if (view[0] !== 7 || view[bytes - 1] !== 7) throw new Error('transfer: corrupted buffer');
      return {
        meanMs: mean(samples),
        p50Ms: percentile(samples, 50),
        maxMs: Math.max(...samples),
        copiedOut: copied,
      };
    });
  },

  /** 5a. Startup: construct a pool and get the first result; the first try is cold. */
  async startup(load, { reps }) {
    const { create } = await load();
    const ms = [];
    for (let r = 0; r < reps; r++) {
      await settleGc();
      progress.phase = `starting pool ${r + 1}`;
      const start = performance.now();
      const pool = await create({ threads: THREADS });
      const v = await pool.tiny(1);
      ms.push(performance.now() - start);
      if (v !== 2) throw new Error('startup: wrong result');
      progress.phase = `closing pool ${r + 1}`;
      await closePool(pool);
    }
    return { coldMs: ms[0], warmMs: median(ms.slice(1)) };
  },

  /** 5b. Idle memory: RSS growth of the process for an idle pool with its threads running. */
  async memory(load, { idleMs }) {
    await settleGc();
    const before = process.memoryUsage();
    const { create } = await load();
    progress.phase = 'starting the pool';
    const pool = await create({ threads: THREADS });
    await Promise.all(Array.from({ length: THREADS * 2 }, (_, i) => pool.tiny(i)));
    await sleep(idleMs);
    await settleGc();
    const after = process.memoryUsage();
    progress.phase = 'closing the pool';
    await closePool(pool);
    const MB = 1024 * 1024;
    return {
      rssMB: (after.rss - before.rss) / MB,
      heapMB: (after.heapUsed - before.heapUsed) / MB,
    };
  },
};
