// What offThread() costs over a hand-written pool.run() route, side by side in one server:
// the same fib(n) through /manual/:n (pool.run by hand) and /offthread/:n (offThread()), each at
// 8 connections while /health is requested over one connection. Rounds alternate A B B A so
// that drift in the machine's load falls on both routes alike.
//
//   pnpm bench:adapter                                   # n=27, 8 s per round, 2 rounds each
//   BENCH_N=27 BENCH_DURATION=8 BENCH_ROUNDS=2 pnpm bench:adapter
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const autocannonBin = `${root}node_modules/.bin/autocannon`;
const n = Number(process.env.BENCH_N ?? 27);
const duration = Number(process.env.BENCH_DURATION ?? 8);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const connections = 8;
const port = Number(process.env.BENCH_PORT ?? 3998);
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

const autocannon = (args) =>
  run(autocannonBin, ['--json', ...args]).done.then((out) => JSON.parse(out));

/**
 * CPU time (ms) the server process has used, all its threads together, from /proc (Linux).
 * Throughput on a busy machine swings with the other load; CPU time per request does much less,
 * so it shows what the adapter itself costs. `undefined` elsewhere.
 */
function serverCpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

async function measure(route) {
  const cpuBefore = serverCpuMs(server.child.pid);
  const [heavy, health] = await Promise.all([
    autocannon(['-c', String(connections), '-d', String(duration), `${base}${route}`]),
    autocannon(['-c', '1', '-R', '100', '-d', String(duration), `${base}/health`]),
  ]);
  const cpuAfter = serverCpuMs(server.child.pid);
  const requests = heavy.requests.total + health.requests.total;
  const cpuPerRequest =
    cpuBefore === undefined || cpuAfter === undefined
      ? undefined
      : ((cpuAfter - cpuBefore) * 1000) / requests;
  return { heavy, health, cpuPerRequest };
}

const server = run(process.execPath, ['src/server.js'], {
  env: { ...process.env, PORT: String(port) },
});
server.done.catch(() => {});
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {}
    if (i === 100) throw new Error('the sample server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const loadBefore = loadavg()[0];
  const routes = { manual: `/manual/${n}`, offThread: `/offthread/${n}` };
  // Warm up both: JIT, pool threads, connections.
  for (const route of Object.values(routes)) {
    await autocannon(['-c', String(connections), '-d', '2', `${base}${route}`]);
  }
  const results = { manual: [], offThread: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['manual', 'offThread'] : ['offThread', 'manual'];
    for (const name of order) results[name].push(await measure(routes[name]));
  }
  const summary = (name) => {
    const list = results[name];
    const mean = (f) => list.reduce((sum, m) => sum + f(m), 0) / list.length;
    return {
      reqPerSec: mean((m) => m.heavy.requests.average),
      heavyP99: mean((m) => m.heavy.latency.p99),
      healthP99: mean((m) => m.health.latency.p99),
      healthP50: mean((m) => m.health.latency.p50),
      errors: list.reduce((s, m) => s + m.heavy.errors + m.heavy.non2xx, 0),
      cpuPerRequest: list.every((m) => m.cpuPerRequest !== undefined)
        ? mean((m) => m.cpuPerRequest)
        : undefined,
    };
  };
  const manual = summary('manual');
  const off = summary('offThread');
  const f = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  console.log(
    `Node ${process.version}, ${availableParallelism()} cores, fib(${n}), ${connections} connections + /health at 1 connection, ${rounds} x ${duration} s per route (A B B A); 1-minute load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after.\n`,
  );
  console.log(
    '| route | req/s | p99 ms | /health p50 ms | /health p99 ms | errors | server CPU µs/request |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [label, s] of [
    [`pool.run() by hand (/manual/${n})`, manual],
    [`offThread() (/offthread/${n})`, off],
  ]) {
    console.log(
      `| ${label} | ${f(s.reqPerSec)} | ${f(s.heavyP99)} | ${f(s.healthP50)} | ${f(s.healthP99)} | ${s.errors} | ${s.cpuPerRequest === undefined ? 'n/a' : f(s.cpuPerRequest)} |`,
    );
  }
  console.log(
    `\noffThread() / pool.run() throughput: ${(off.reqPerSec / manual.reqPerSec).toFixed(3)}x (goal >= 0.97x); /health p99 ${f(off.healthP99)} ms vs ${f(manual.healthP99)} ms`,
  );
  if (off.cpuPerRequest !== undefined && manual.cpuPerRequest !== undefined) {
    console.log(
      `offThread() costs ${f(off.cpuPerRequest - manual.cpuPerRequest)} µs of server CPU per request more than pool.run() by hand`,
    );
  }
} finally {
  server.child.kill('SIGINT');
}
