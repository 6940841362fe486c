// Starts server.mjs, keeps `concurrency` requests in flight on a heavy route for
// `seconds`, and
// meanwhile asks /health every 50 ms. Prints throughput of the heavy route and /health
// latency.
//   node health-under-load.mjs /fib-blocking?n=30     the work on the main thread
//   node health-under-load.mjs /fib?n=30              the same work through offThread()
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';

const route = process.argv[2] ?? '/fib?n=30';
const seconds = Number(process.argv[3] ?? 10);
const concurrency = Number(process.argv[4] ?? 8);

const server = spawn(
  process.execPath,
  [new URL('./server.mjs', import.meta.url).pathname],
  {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const [line] = await once(server.stdout, 'data');
const base = /listening on (\S+)/.exec(String(line))?.[1];
if (!base) throw new Error(`server did not start: ${line}`);

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const end = performance.now() + seconds * 1000;
let done = 0;
const worker = async () => {
  while (performance.now() < end) {
    const res = await fetch(base + route);
    await res.arrayBuffer();
    if (res.ok) done++;
  }
};
const health = [];
const prober = async () => {
  while (performance.now() < end) {
    const t0 = performance.now();
    await (await fetch(`${base}/health`)).arrayBuffer();
    health.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
await Promise.all([...Array.from({ length: concurrency }, worker), prober()]);
server.kill('SIGTERM');
await once(server, 'exit');

health.sort((a, b) => a - b);
const round = (ms) => Math.round(ms * 10) / 10;
console.log(
  JSON.stringify({
    route,
    concurrency,
    seconds,
    requestsPerSecond: round(done / seconds),
    healthChecks: health.length,
    healthP50Ms: round(percentile(health, 50)),
    healthP99Ms: round(percentile(health, 99)),
    healthMaxMs: round(health.at(-1)),
  }),
);
