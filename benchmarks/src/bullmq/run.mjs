/**
 * BullMQ comparison: `node benchmarks/src/bullmq/run.mjs [--tiny=2000] [--latency=600] [--cpu=96] [--latency-cpu=200] [--rounds=3]`.
 *
 * One run on one Redis (a redis-server started here on a free loopback port, without
 * persistence): tiny tasks and fib(27) through
 *   - remote:   @offthread/bullmq RemotePool -> one `offthread-bullmq serve` process (2 threads)
 *   - remote-fifo: the same with `priorities: false` (BullMQ's FIFO wait list, no priority order)
 *   - plain:    BullMQ Queue + `job.waitUntilFinished(queueEvents)` (BullMQ's documented way to
 *               await a result) -> one Worker with a sandboxed processor (useWorkerThreads,
 *               concurrency 2: one thread per job in flight)
 *   - plain-ev: the same worker; the caller resolves results from one QueueEvents 'completed'
 *               listener by job id (the fastest hand-written caller: no per-job isFinished
 *               round trip, no per-job listeners), as RemotePool does
 *   - local:    a local @offthread/core Pool (2 threads), no Redis at all
 * Throughput: `count` calls in flight at once, rounds in a rotating order, median reported.
 * Latency: calls one at a time, the setups interleaved call by call (remote, plain, plain-ev,
 * local, remote, ...), so a noisy neighbour slows all of them alike; p50 over all calls.
 * Prints the ratios remote/plain, remote/plain-ev and remote/local.
 * Needs redis-server on PATH and a built packages/bullmq (pnpm --filter @offthread/bullmq build).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from '@offthread/core';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const bullmqPackage = new URL('../../../packages/bullmq/package.json', import.meta.url);
const require = createRequire(bullmqPackage);
const { Queue, QueueEvents } = require('bullmq');
const { RemotePool } = await import(new URL('./dist/index.js', bullmqPackage).href);

const { values } = parseArgs({
  options: {
    tiny: { type: 'string', default: '2000' },
    latency: { type: 'string', default: '600' },
    cpu: { type: 'string', default: '96' },
    rounds: { type: 'string', default: '3' },
    'latency-cpu': { type: 'string', default: '200' },
  },
});
const TINY = Number(values.tiny);
const LATENCY = Number(values.latency);
const CPU = Number(values.cpu);
const ROUNDS = Number(values.rounds);
const LATENCY_CPU = Number(values['latency-cpu']);
const FIB = 27;
const THREADS = 2;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function startProcess(cmd, args, ready) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (c) => {
      out += c;
      if (ready.test(out)) resolve(proc);
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${cmd} exited (${code}): ${out}`)));
  });
}

function p50(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Throughput: `count` calls in flight at once (after a warm-up). */
async function throughput(label, call, { count, arg }) {
  for (let i = 0; i < 50; i++) await call(arg); // warm-up: threads started, modules loaded
  const start = performance.now();
  await Promise.all(Array.from({ length: count }, () => call(arg)));
  const perSecond = count / ((performance.now() - start) / 1000);
  console.log(`  ${label.padEnd(11)} ${perSecond.toFixed(0).padStart(8)} tasks/s`);
  return perSecond;
}

/**
 * p50 of `n` calls one at a time per setup. The setups take turns in blocks of BLOCK calls (after
 * 3 unmeasured ones), so a noisy neighbour slows all of them alike, while each measured call
 * still follows a call of the same setup, as in a real one-at-a-time caller: taking turns call by
 * call would hand a setup a worker process that another setup had just woken (plain and
 * plain-ev share one), which measured 0.1-0.2 ms faster than a worker that had been idle.
 */
async function latency(calls, { n, arg }) {
  const BLOCK = 20;
  const times = Object.fromEntries(Object.keys(calls).map((label) => [label, []]));
  for (const call of Object.values(calls)) for (let i = 0; i < 20; i++) await call(arg);
  const order = Object.keys(calls);
  for (let block = 0; block * BLOCK < n; block++) {
    const shift = block % order.length;
    for (const label of [...order.slice(shift), ...order.slice(0, shift)]) {
      const call = calls[label];
      for (let i = 0; i < 3; i++) await call(arg);
      for (let i = 0; i < BLOCK; i++) {
        const t = performance.now();
        await call(arg);
        times[label].push(performance.now() - t);
      }
    }
  }
  return Object.fromEntries(Object.entries(times).map(([label, list]) => [label, p50(list)]));
}

const port = await freePort();
const redis = await startProcess(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  /Ready to accept connections/,
).catch((error) => {
  console.error(
    `redis-server did not start (${error.message}). Install it: sudo apt-get install redis-server`,
  );
  process.exit(1);
});
const connection = { host: '127.0.0.1', port };
const children = [redis];

try {
  // offthread remote: one serve process with a 2-thread pool.
  children.push(
    await startProcess(
      process.execPath,
      [
        fileURLToPath(new URL('./dist/cli.js', bullmqPackage)),
        'serve',
        '--queue',
        'bench-remote',
        '--root',
        here('.'),
        '--redis',
        `redis://127.0.0.1:${port}`,
        '--threads',
        String(THREADS),
      ],
      /serving queue/,
    ),
  );
  const remote = new RemotePool({
    queue: 'bench-remote',
    root: here('.'),
    connection,
    filename: here('./tasks.mjs'),
  });
  await remote.connect();
  const remoteFifo = new RemotePool({
    queue: 'bench-remote',
    root: here('.'),
    connection,
    filename: here('./tasks.mjs'),
    priorities: false,
  });
  await remoteFifo.connect();

  // plain BullMQ: sandboxed processor in worker threads.
  children.push(
    await startProcess(
      process.execPath,
      [here('./plain-worker.mjs'), String(port), 'bench-plain', String(THREADS)],
      /ready/,
    ),
  );
  const plainQueue = new Queue('bench-plain', { connection });
  // waitUntilFinished() listens for the queue's 'closing' once per waiting job: with thousands in
  // flight that is thousands of listeners, which BullMQ expects the caller to allow.
  plainQueue.setMaxListeners(TINY + 100);
  const plainEvents = new QueueEvents('bench-plain', { connection });
  await plainEvents.waitUntilReady();
  const plain = async (name, data) => {
    // Kept a minute: waitUntilFinished() reads a job that finished before it subscribed.
    const job = await plainQueue.add(name, data, {
      removeOnComplete: { age: 60 },
      removeOnFail: { age: 60 },
    });
    return job.waitUntilFinished(plainEvents);
  };
  const waiting = new Map();
  plainEvents.on('completed', ({ jobId, returnvalue }) => {
    waiting.get(jobId)?.resolve(returnvalue);
    waiting.delete(jobId);
  });
  plainEvents.on('failed', ({ jobId, failedReason }) => {
    waiting.get(jobId)?.reject(new Error(failedReason));
    waiting.delete(jobId);
  });
  let plainSeq = 0;
  const plainEv = (name, data) =>
    new Promise((resolve, reject) => {
      const jobId = `ev-${++plainSeq}`;
      waiting.set(jobId, { resolve, reject });
      plainQueue
        .add(name, data, { jobId, removeOnComplete: true, removeOnFail: true })
        .catch(reject);
    });

  const local = new Pool({
    filename: here('./tasks.mjs'),
    minThreads: THREADS,
    maxThreads: THREADS,
    maxQueue: Number.POSITIVE_INFINITY,
  });

  const setups = {
    remote: (name) => (x) => remote.run(x, { name }),
    'remote-fifo': (name) => (x) => remoteFifo.run(x, { name }),
    plain: (name) => (x) => plain(name, x),
    'plain-ev': (name) => (x) => plainEv(name, x),
    local: (name) => (x) => local.run(x, { name }),
  };
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const results = {};
  for (const [kind, opts] of [
    ['tiny', { count: TINY, n: LATENCY, arg: 1 }],
    ['fib(27)', { count: CPU, n: LATENCY_CPU, arg: FIB }],
  ]) {
    const name = kind === 'tiny' ? 'tiny' : 'cpu';
    console.log(`${kind}: ${opts.count} in flight, ${ROUNDS} rounds in a rotating order`);
    const samples = Object.fromEntries(Object.keys(setups).map((label) => [label, []]));
    const order = Object.keys(setups);
    for (let round = 0; round < ROUNDS; round++) {
      const shift = round % order.length;
      for (const label of [...order.slice(shift), ...order.slice(0, shift)]) {
        samples[label].push(await throughput(label, setups[label](name), opts));
      }
    }
    console.log(`${kind}: ${opts.n} calls one at a time per setup, taking turns in blocks`);
    const p50s = await latency(
      Object.fromEntries(Object.entries(setups).map(([label, make]) => [label, make(name)])),
      opts,
    );
    results[kind] = {};
    for (const label of order) {
      results[kind][label] = { perSecond: median(samples[label]), p50: p50s[label] };
    }
    console.log('  setup     tasks/s (median)   p50 one at a time');
    for (const [label, r] of Object.entries(results[kind])) {
      console.log(
        `  ${label.padEnd(11)} ${r.perSecond.toFixed(0).padStart(8)}           ${r.p50.toFixed(3)} ms`,
      );
    }
  }

  console.log(
    '\nratios (remote vs plain BullMQ, vs the hand-written plain-ev caller, vs a local pool):',
  );
  for (const [kind, r] of Object.entries(results)) {
    const ratio = (a, b) => (a / b).toFixed(2);
    console.log(
      `  ${kind.padEnd(8)} throughput remote/plain ${ratio(r.remote.perSecond, r.plain.perSecond)}x, ` +
        `remote/plain-ev ${ratio(r.remote.perSecond, r['plain-ev'].perSecond)}x; ` +
        `p50 remote/plain ${ratio(r.remote.p50, r.plain.p50)}x, ` +
        `remote/plain-ev ${ratio(r.remote.p50, r['plain-ev'].p50)}x; ` +
        `throughput remote/local ${(r.remote.perSecond / r.local.perSecond).toFixed(3)}x`,
    );
    console.log(
      `  ${''.padEnd(8)} priorities: false: throughput remote-fifo/plain ${ratio(r['remote-fifo'].perSecond, r.plain.perSecond)}x, ` +
        `remote-fifo/plain-ev ${ratio(r['remote-fifo'].perSecond, r['plain-ev'].perSecond)}x; ` +
        `p50 remote-fifo/plain ${ratio(r['remote-fifo'].p50, r.plain.p50)}x, ` +
        `remote-fifo/plain-ev ${ratio(r['remote-fifo'].p50, r['plain-ev'].p50)}x`,
    );
  }
  console.log(
    `load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  await Promise.all([
    remote.close(),
    remoteFifo.close(),
    plainQueue.close(),
    plainEvents.close(),
    local.close(),
  ]);
} finally {
  for (const child of children.reverse()) child.kill('SIGKILL');
}
