/**
 * BullMQ comparison: `node benchmarks/src/bullmq/run.mjs [--tiny=2000] [--latency=200] [--cpu=32] [--rounds=3]`.
 *
 * One run on one Redis (a redis-server started here on a free loopback port, without
 * persistence): tiny tasks and fib(27) through
 *   - remote:  @offthread/bullmq RemotePool -> one `offthread-bullmq serve` process (2 threads)
 *   - plain:   BullMQ Queue + QueueEvents  -> one Worker with a sandboxed processor
 *              (useWorkerThreads, concurrency 2)
 *   - local:   a local @offthread/core Pool (2 threads), no Redis at all
 * and prints throughput, p50 latency (medians over rounds in a rotating order) and the ratios
 * remote/plain and remote/local.
 * Needs redis-server on PATH and a built packages/bullmq (pnpm --filter @offthread/bullmq build).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
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
    latency: { type: 'string', default: '200' },
    cpu: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
  },
});
const TINY = Number(values.tiny);
const LATENCY = Number(values.latency);
const CPU = Number(values.cpu);
const ROUNDS = Number(values.rounds);
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

/** Throughput of `count` calls in flight at once, and p50 of `LATENCY` calls one after another. */
async function measure(label, call, { count, sequential, arg }) {
  for (let i = 0; i < 50; i++) await call(arg); // warm-up: threads started, modules loaded
  const start = performance.now();
  await Promise.all(Array.from({ length: count }, () => call(arg)));
  const seconds = (performance.now() - start) / 1000;
  const times = [];
  for (let i = 0; i < sequential; i++) {
    const t = performance.now();
    await call(arg);
    times.push(performance.now() - t);
  }
  const result = { label, perSecond: count / seconds, p50: p50(times) };
  console.log(
    `  ${label.padEnd(8)} ${result.perSecond.toFixed(0).padStart(8)} tasks/s   p50 ${result.p50.toFixed(2)} ms`,
  );
  return result;
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

  // plain BullMQ: sandboxed processor in worker threads.
  children.push(
    await startProcess(
      process.execPath,
      [here('./plain-worker.mjs'), String(port), 'bench-plain', String(THREADS)],
      /ready/,
    ),
  );
  const plainQueue = new Queue('bench-plain', { connection });
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

  const local = new Pool({
    filename: here('./tasks.mjs'),
    minThreads: THREADS,
    maxThreads: THREADS,
    maxQueue: Number.POSITIVE_INFINITY,
  });

  // Rounds in a rotating order, medians reported: the machine may be shared and noisy.
  const setups = {
    remote: (name) => (x) => remote.run(x, { name }),
    plain: (name) => (x) => plain(name, x),
    local: (name) => (x) => local.run(x, { name }),
  };
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const results = {};
  for (const [kind, opts] of [
    ['tiny', { count: TINY, sequential: LATENCY, arg: 1 }],
    ['fib(27)', { count: CPU, sequential: Math.min(60, LATENCY), arg: FIB }],
  ]) {
    const name = kind === 'tiny' ? 'tiny' : 'cpu';
    console.log(
      `${kind}: ${opts.count} in flight, then ${opts.sequential} one by one; ${ROUNDS} rounds`,
    );
    const samples = { remote: [], plain: [], local: [] };
    const order = Object.keys(setups);
    for (let round = 0; round < ROUNDS; round++) {
      for (const label of [...order.slice(round % 3), ...order.slice(0, round % 3)]) {
        samples[label].push(await measure(label, setups[label](name), opts));
      }
    }
    results[kind] = {};
    for (const [label, list] of Object.entries(samples)) {
      results[kind][label] = {
        perSecond: median(list.map((r) => r.perSecond)),
        p50: median(list.map((r) => r.p50)),
      };
    }
    console.log(
      `  medians: ${Object.entries(results[kind])
        .map(([l, r]) => `${l} ${r.perSecond.toFixed(0)}/s p50 ${r.p50.toFixed(2)} ms`)
        .join('; ')}`,
    );
  }

  console.log('\nratios (remote vs plain BullMQ, remote vs local pool):');
  for (const [kind, r] of Object.entries(results)) {
    console.log(
      `  ${kind.padEnd(8)} throughput remote/plain ${(r.remote.perSecond / r.plain.perSecond).toFixed(2)}x, ` +
        `p50 remote/plain ${(r.remote.p50 / r.plain.p50).toFixed(2)}x; ` +
        `throughput remote/local ${(r.remote.perSecond / r.local.perSecond).toFixed(3)}x, ` +
        `p50 remote/local ${(r.remote.p50 / r.local.p50).toFixed(1)}x`,
    );
  }
  await Promise.all([remote.close(), plainQueue.close(), plainEvents.close(), local.close()]);
} finally {
  for (const child of children.reverse()) child.kill('SIGKILL');
}
