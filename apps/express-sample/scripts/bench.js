// Heavy route at 8 connections, /health latency measured at the same time, for the blocking
// and the off-thread version of the same work. Prints both and writes them into README.md.
//
//   pnpm bench                      # n=30, 10 s per run
//   BENCH_N=28 BENCH_DURATION=20 pnpm bench
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const autocannonBin = `${root}node_modules/.bin/autocannon`;
const n = Number(process.env.BENCH_N ?? 30);
const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = 8;
const port = Number(process.env.BENCH_PORT ?? 3999);
const base = `http://127.0.0.1:${port}`;

function run(command, args, options = {}) {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} exited ${code}: ${stderr}`)),
    );
  });
  return { child, done };
}

async function startServer(env = {}) {
  const server = run(process.execPath, ['src/server.js'], {
    env: { ...process.env, ...env, PORT: String(port) },
  });
  server.done.catch(() => {});
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return server;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the sample server did not start');
}

async function stopServer(server) {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGINT');
  await exited;
}

const autocannon = (args) =>
  run(autocannonBin, ['--json', ...args]).done.then((out) => JSON.parse(out));

async function measure(route, env) {
  const server = await startServer(env);
  try {
    // Warm up: JIT, pool threads, connections.
    await autocannon(['-c', String(connections), '-d', '2', `${base}${route}`]);
    const [heavy, health] = await Promise.all([
      autocannon(['-c', String(connections), '-d', String(duration), `${base}${route}`]),
      // One connection, 100 requests/s: a light route as a load balancer or a user would hit it.
      autocannon(['-c', '1', '-R', '100', '-d', String(duration), `${base}/health`]),
    ]);
    return { heavy, health };
  } finally {
    await stopServer(server);
  }
}

const fmt = (v) =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v);

function row(label, { heavy, health }) {
  return [
    label,
    fmt(heavy.requests.average),
    fmt(heavy.latency.p50),
    fmt(heavy.latency.p99),
    fmt(heavy.non2xx + heavy.errors),
    fmt(health.latency.p50),
    fmt(health.latency.p99),
    fmt(health.latency.max),
    fmt(health.non2xx + health.errors),
  ];
}

const cores = availableParallelism();
// Other work on the machine skews latency; the load average says how much there was.
const loadBefore = loadavg()[0];
const spare = Math.max(1, cores - 1);
const blocking = await measure(`/blocking/${n}`);
// The sample's default: one core left to the event loop.
const offthread = await measure(`/offthread/${n}`, { OFFTHREAD_THREADS: String(spare) });
// For comparison: as many threads as cores, competing with the event loop for CPU.
const offthreadAll =
  cores > spare
    ? await measure(`/offthread/${n}`, { OFFTHREAD_THREADS: String(cores) })
    : undefined;

const header = [
  'route',
  'heavy req/s',
  'heavy p50 ms',
  'heavy p99 ms',
  'heavy errors',
  '/health p50 ms',
  '/health p99 ms',
  '/health max ms',
  '/health errors',
];
const rows = [
  row(`/blocking/${n}`, blocking),
  row(`/offthread/${n}, ${spare} thread(s)`, offthread),
];
if (offthreadAll) rows.push(row(`/offthread/${n}, ${cores} threads`, offthreadAll));
// Columns padded to their widest cell, as the repository's Markdown formatter writes tables.
const widths = header.map((_, i) => Math.max(3, ...[header, ...rows].map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
const table = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
const context = `Node ${process.version}, ${cores} cores, autocannon ${connections} connections on the heavy route and 1 connection at 100 req/s on /health, ${duration} s each, measured on ${new Date().toISOString().slice(0, 10)}; 1-minute load average ${loadBefore.toFixed(1)} before and ${loadavg()[0].toFixed(1)} after.`;

console.log(`${context}\n\n${table}\n`);
const ratio = offthread.heavy.requests.average / blocking.heavy.requests.average;
console.log(
  `off-thread / blocking throughput: ${ratio.toFixed(2)}x; /health p99 with off-thread: ${fmt(offthread.health.latency.p99)} ms`,
);

const readme = `${root}README.md`;
const text = readFileSync(readme, 'utf8');
const start = '<!-- bench:start -->';
const end = '<!-- bench:end -->';
const from = text.indexOf(start);
const to = text.indexOf(end);
if (from !== -1 && to > from) {
  writeFileSync(
    readme,
    `${text.slice(0, from + start.length)}\n${context}\n\n${table}\n${text.slice(to)}`,
  );
  console.log('README.md updated');
}
