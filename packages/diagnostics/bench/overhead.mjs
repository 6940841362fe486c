// The app's own CPU time per request, with no monitor, createMonitor() defaults, the production
// mode, and prom-client's collectDefaultMetrics(), in one run. CPU time (process.cpuUsage() read
// inside the server, over a fixed number of requests) rather than throughput: on a busy machine
// throughput swings with the neighbours, CPU time per request much less. One server per mode
// runs at once; they take turns batch by batch and the median batch per mode is reported.
// autocannon ends a run only at its next sample tick (`sampleInt`, 1 s by default): with the
// default, a batch of 4000 requests loaded the server for about 0.1 s and then left it idle for
// 0.9 s, so every per-second cost of a mode was charged to the requests ten times over. The
// bench ticks every 10 ms instead, so a batch measures a server under load; per-second costs
// are reported on their own, as idle CPU per second of each mode (measured in every set of
// processes). `--sample-int 1000` measures the old way.
// Not part of `test`.
//   node bench/overhead.mjs [--requests 150000] [--rounds 15] [--generations 3] [--connections 8]
//                           [--modes none,defaults,production,prom-client] [--sample-int 10]
//                           [--idle-ms 10000]
//   (--requests per route and mode, split into --rounds batches; custom<i> modes take their
//   options from BENCH_CUSTOM='[{...}, ...]')
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '150000' },
    rounds: { type: 'string', default: '15' },
    generations: { type: 'string', default: '3' },
    connections: { type: 'string', default: '8' },
    modes: { type: 'string', default: 'none,defaults,production,prom-client' },
    'sample-int': { type: 'string', default: '10' },
    'idle-ms': { type: 'string', default: '10000' },
  },
});
const requests = Number(values.requests);
const rounds = Number(values.rounds);
const generations = Number(values.generations);
const connections = Number(values.connections);
const modes = values.modes.split(',');
const sampleInt = Number(values['sample-int']);
const idleMs = Number(values['idle-ms']);
const routes = [
  ['hello world', '/'],
  ['one fs.readFile', '/file'],
];

function getJson(port, path) {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(JSON.parse(body)));
    })
      .on('error', reject)
      .end();
  });
}

async function startServer(mode) {
  const child = spawn(process.execPath, [join(here, 'server.mjs')], {
    env: { ...process.env, BENCH_MODE: mode },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${mode}: server did not start`)), 20_000);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      const m = /listening on (\d+)/.exec(d);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  return { mode, child, port };
}

/** CPU µs per request of one batch of `amount` requests on `path`. */
async function batch(server, path, amount) {
  const url = `http://127.0.0.1:${server.port}${path}`;
  const before = await getJson(server.port, '/__cpu');
  const r = await autocannon({ url, connections, amount, sampleInt });
  const after = await getJson(server.port, '/__cpu');
  if (r.non2xx || r.errors) {
    throw new Error(`${server.mode} ${path}: ${r.errors} errors, ${r.non2xx} non-2xx`);
  }
  return (after.user - before.user + after.system - before.system) / (r.requests.total || amount);
}

// All servers run at once and take turns, batch by batch, so every mode sees the same machine
// load; a server's idle time between its batches is not counted. Fresh processes every
// `generations`, so one process's luck (JIT, memory layout) does not decide a mode.
/** CPU ms per second of each server while nobody sends requests, all measured at once. */
async function idle(servers) {
  const before = await Promise.all(servers.map((s) => getJson(s.port, '/__cpu')));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, idleMs));
  const after = await Promise.all(servers.map((s) => getJson(s.port, '/__cpu')));
  const seconds = (performance.now() - t0) / 1000;
  servers.forEach((s, i) => {
    const us = after[i].user - before[i].user + after[i].system - before[i].system;
    idlePerSecond[s.mode].push(us / 1000 / seconds);
  });
}

const idlePerSecond = Object.fromEntries(modes.map((m) => [m, []]));
const perBatch = Object.fromEntries(
  modes.map((m) => [m, Object.fromEntries(routes.map(([n]) => [n, []]))]),
);
const batchSize = Math.max(500, Math.round(requests / rounds));
const perGeneration = Math.ceil(rounds / generations);
for (let g = 0, i = 0; g < generations && i < rounds; g++) {
  const servers = [];
  try {
    for (const mode of modes) servers.push(await startServer(mode));
    for (const s of servers) for (const [, path] of routes) await batch(s, path, 2000); // warm up
    if (idleMs > 0) await idle(servers);
    for (let k = 0; k < perGeneration && i < rounds; k++, i++) {
      for (const [name, path] of routes) {
        const order = i % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) perBatch[s.mode][name].push(await batch(s, path, batchSize));
      }
    }
  } finally {
    for (const s of servers) s.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => new Promise((r) => s.child.once('close', r))));
  }
  console.error(`${i}/${rounds} rounds`);
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const min = (a) => Math.min(...a);
// The median says what a run typically costs; the minimum, the batch least disturbed by the
// neighbours, is the better estimate of the monitor's own cost on a shared machine.
for (const [label, stat] of [
  ['median', median],
  ['minimum', min],
]) {
  const table = {};
  for (const mode of modes) {
    table[mode] = Object.fromEntries(routes.map(([n]) => [n, stat(perBatch[mode][n])]));
  }
  const base = table.none;
  const cell = (mode, n) => {
    const v = table[mode][n];
    if (!base || mode === 'none') return `${v.toFixed(1)} µs`;
    const pct = Math.round((v / base[n] - 1) * 100) || 0;
    return `${v.toFixed(1)} µs (${pct >= 0 ? '+' : ''}${pct}%)`;
  };
  console.log(
    `\nCPU time of the app per request, ${label} over ${rounds} batches of ${batchSize} requests per route and mode (${generations} sets of processes), ${connections} connections, autocannon sampleInt ${sampleInt} ms, Node ${process.version}\n`,
  );
  console.log(`| route | ${modes.join(' | ')} |`);
  console.log(`| --- | ${modes.map(() => '---').join(' | ')} |`);
  for (const [n] of routes) console.log(`| ${n} | ${modes.map((m) => cell(m, n)).join(' | ')} |`);
}
if (idleMs > 0) {
  console.log(
    `\nIdle CPU time of the app per second (ms/s), median over ${generations} sets of processes, ${idleMs / 1000} s each, after warm-up\n`,
  );
  console.log(`| ${modes.join(' | ')} |`);
  console.log(`| ${modes.map(() => '---').join(' | ')} |`);
  console.log(`| ${modes.map((m) => median(idlePerSecond[m]).toFixed(2)).join(' | ')} |`);
}
