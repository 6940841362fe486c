#!/usr/bin/env node
// Blocking vs off-thread: load the heavy route with 8 connections while a second autocannon
// measures /health. On the event loop, /health waits behind every heavy request; through
// @OffThread() it stays fast. Prints a table and writes it into README.md between the markers.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startApp } from './start-app.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 10);
const n = Number(process.env.BENCH_N ?? 60);
const connections = 8;

function run(url, conns) {
  return autocannon({ url, connections: conns, duration });
}

const loadBefore = loadavg()[0];
const rows = [];
for (const mode of ['blocking', 'offthread']) {
  const app = await startApp();
  try {
    // One request of each to warm up JIT and the worker contexts.
    await fetch(`${app.url}/${mode}/${n}`);
    const [heavy, health] = await Promise.all([
      run(`${app.url}/${mode}/${n}`, connections),
      run(`${app.url}/health`, 1),
    ]);
    rows.push({
      route: `/${mode}/${n}`,
      heavyRps: heavy.requests.average,
      heavyP50: heavy.latency.p50,
      heavyP99: heavy.latency.p99,
      healthRps: health.requests.average,
      healthP50: health.latency.p50,
      healthP99: health.latency.p99,
      errors: heavy.errors + heavy.non2xx + health.errors + health.non2xx,
    });
  } finally {
    await app.stop();
  }
}

const table = [
  `Node ${process.version}, ${availableParallelism()} cores, ${duration} s per run, heavy route at ${connections} connections, /health at 1 connection, default pool size; 1-min load average ${loadBefore.toFixed(1)} before the run (other work on the machine skews numbers).`,
  '',
  '| heavy route | heavy req/s | heavy p50 / p99 (ms) | /health req/s | /health p50 / p99 (ms) | errors |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| \`${r.route}\` | ${r.heavyRps.toFixed(0)} | ${r.heavyP50} / ${r.heavyP99} | ${r.healthRps.toFixed(0)} | ${r.healthP50} / ${r.healthP99} | ${r.errors} |`,
  ),
].join('\n');
console.log(table);

const readme = new URL('../README.md', import.meta.url);
const text = readFileSync(readme, 'utf8');
const start = '<!-- bench:start -->';
const end = '<!-- bench:end -->';
if (text.includes(start) && text.includes(end)) {
  const updated = `${text.slice(0, text.indexOf(start) + start.length)}\n${table}\n${text.slice(text.indexOf(end))}`;
  writeFileSync(readme, updated);
  // Keep the README as the repository's formatter wants it (Biome aligns Markdown tables).
  try {
    const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
    spawnSync(process.execPath, [biome, 'format', '--write', fileURLToPath(readme)], {
      stdio: 'ignore',
    });
  } catch {}
  console.log('\nREADME.md updated.');
}
