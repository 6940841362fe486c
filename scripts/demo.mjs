#!/usr/bin/env node
// `pnpm demo`: the whole story in under two minutes. The Express sample app runs twice under
// `npx @offthread/diagnostics doctor` (here the workspace's own bin): once with its CPU-heavy
// route on the event loop (/blocking/:n), once with the same work moved to a pool thread by one
// line of offThread() (/offthread/:n). Each time, autocannon drives the heavy route while a
// second client measures /health, the light route a load balancer or a user would hit. The table shows what the move buys; the doctor's verdicts
// show how you would have found out.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(root, 'apps/express-sample/package.json'));
const autocannon = require('autocannon');

const N = Number(process.env.DEMO_N ?? 30); // fib(30): ~10 ms of one core
const SECONDS = Number(process.env.DEMO_SECONDS ?? 8);
const CONNECTIONS = 8;
const PORT = Number(process.env.DEMO_PORT ?? 3787);
const base = `http://127.0.0.1:${PORT}`;
const doctorBin = join(root, 'packages/diagnostics/bin/offthread.js');
const server = join(root, 'apps/express-sample/src/server.js');
const work = mkdtempSync(join(tmpdir(), 'offthread-demo-'));

// ---- progress ------------------------------------------------------------------------------
const started = Date.now();
const tty = process.stderr.isTTY;
const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
let status = '';
let frame = 0;
const spinner = tty
  ? setInterval(() => {
      const elapsed = ((Date.now() - started) / 1000).toFixed(0).padStart(3);
      process.stderr.write(`\r\x1b[2K${frames[frame++ % frames.length]} ${elapsed} s  ${status}`);
    }, 100)
  : undefined;
function step(text) {
  status = text;
  if (!tty) process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${text}\n`);
}
function done(text) {
  if (tty) process.stderr.write(`\r\x1b[2K✔ ${text}\n`);
  else process.stderr.write(`✔ ${text}\n`);
}

// ---- one run -------------------------------------------------------------------------------
function runAutocannon(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

async function waitForHealth(child, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('the sample app exited before it listened');
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the sample app did not answer on ${base}/health within ${timeoutMs / 1000} s`);
}

async function measure(label, route) {
  const json = join(work, `${label}.json`);
  step(`${label}: starting the Express sample under npx @offthread/diagnostics doctor`);
  // The doctor drives the heavy route (--load) and ends the run when the load is done.
  const doctor = spawn(
    process.execPath,
    [
      doctorBin,
      'doctor',
      '--quiet',
      '--json',
      json,
      '--load',
      `-c ${CONNECTIONS} -d ${SECONDS} ${route}`,
      '--',
      process.execPath,
      server,
    ],
    { cwd: root, env: { ...process.env, PORT: String(PORT) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  doctor.stdout.on('data', (chunk) => (output += chunk));
  doctor.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => doctor.on('exit', resolve));
  try {
    await waitForHealth(doctor);
    step(`${label}: ${CONNECTIONS} connections on ${route}, measuring /health for ${SECONDS} s`);
    // One client at 100 requests/s on /health, for as long as the heavy load runs.
    const health = await runAutocannon({
      url: `${base}/health`,
      connections: 1,
      overallRate: 100,
      duration: SECONDS,
    });
    step(`${label}: waiting for the doctor's verdict`);
    const code = await exited;
    if (code !== 0) throw new Error(`offthread doctor exited with ${code}:\n${output}`);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    done(`${label}: ${route}`);
    return { label, route, health, report };
  } catch (error) {
    doctor.kill('SIGKILL');
    throw error;
  }
}

// ---- main ----------------------------------------------------------------------------------
process.stderr.write(
  `offthread demo: the Express sample, fib(${N}) per heavy request, ${availableParallelism()} cores, load average ${loadavg()[0].toFixed(1)}\n`,
);
let results;
try {
  results = [
    await measure('blocking', `/blocking/${N}`),
    await measure('off-thread', `/offthread/${N}`),
  ];
} finally {
  if (spinner) clearInterval(spinner);
  rmSync(work, { recursive: true, force: true });
}

const fmt = (n) => (n >= 100 ? String(Math.round(n)) : n.toFixed(1));
// autocannon reports whole milliseconds: 0 means under one.
const latency = (ms) => (ms < 1 ? '< 1 ms' : `${fmt(ms)} ms`);
const header = ['route', 'heavy req/s', '/health p50', '/health p99', 'doctor verdict'];
const rows = results.map(({ route, health, report }) => [
  route,
  fmt(report.load?.requests.average ?? 0),
  latency(health.latency.p50),
  latency(health.latency.p99),
  report.verdict.summary,
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => cells.map((cell, i) => cell.padEnd(widths[i])).join('  ');
console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
for (const row of rows) console.log(line(row));

for (const { label, report } of results) {
  console.log(`\noffthread doctor, ${label}: ${report.verdict.summary}`);
  for (const finding of report.verdict.findings) {
    console.log(`  ${finding.title}`);
    for (const evidence of finding.evidence.slice(0, 3)) console.log(`    - ${evidence}`);
    console.log(`    → ${finding.recommendation}`);
  }
}
const [blocking, offThread] = results;
console.log(
  `\n/health p99 went from ${latency(blocking.health.latency.p99)} to ${latency(offThread.health.latency.p99)} with one line: offThread(new URL('./handlers/fibonacci.js', import.meta.url), { pool }).`,
);
console.log(
  `Done in ${((Date.now() - started) / 1000).toFixed(0)} s. Docs: docs/ (pnpm docs:dev).`,
);
