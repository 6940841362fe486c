#!/usr/bin/env node
// The adapter's own cost: the same prime count through @OffThread() (/offthread/:n) and through a
// hand-written pool.run() on the same pool (/manual/:n), in one app and one run, rounds
// interleaved so that drift in the machine's load hits both alike. Each round loads the route
// with 8 connections while a second autocannon measures /health with one. Prints the ratio of
// throughputs and both /health p99s, and writes them into README.md between the markers.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startApp } from './start-app.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 8);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const n = Number(process.env.BENCH_N ?? 20);
const connections = 8;

const run = (url, conns) => autocannon({ url, connections: conns, duration });

const loadBefore = loadavg()[0];
const totals = {
  manual: { rps: [], p99: [], healthP99: [], errors: 0 },
  offthread: { rps: [], p99: [], healthP99: [], errors: 0 },
};
const app = await startApp();
try {
  for (const route of ['manual', 'offthread']) await fetch(`${app.url}/${route}/${n}`);
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so neither always runs on a warmer or cooler machine.
    const order = round % 2 === 0 ? ['manual', 'offthread'] : ['offthread', 'manual'];
    for (const route of order) {
      const [heavy, health] = await Promise.all([
        run(`${app.url}/${route}/${n}`, connections),
        run(`${app.url}/health`, 1),
      ]);
      const t = totals[route];
      t.rps.push(heavy.requests.average);
      t.p99.push(heavy.latency.p99);
      t.healthP99.push(health.latency.p99);
      t.errors += heavy.errors + heavy.non2xx + health.errors + health.non2xx;
    }
  }
} finally {
  await app.stop();
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
// The median too: on a shared machine one round can collapse for reasons of its own.
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ratio = mean(totals.offthread.rps) / mean(totals.manual.rps);
const medianRatio = median(totals.offthread.rps) / median(totals.manual.rps);
const row = (label, t) =>
  `| ${label} | ${mean(t.rps).toFixed(0)} (${t.rps.map((x) => x.toFixed(0)).join(', ')}) | ${mean(t.p99).toFixed(0)} | ${mean(t.healthP99).toFixed(1)} | ${t.errors} |`;
const table = [
  `Node ${process.version}, ${availableParallelism()} cores, /manual/${n} and /offthread/${n} at ${connections} connections with /health at 1 connection, ${rounds} interleaved rounds of ${duration} s each, default pool size; 1-min load average ${loadBefore.toFixed(1)} before the run (other work on the machine skews numbers).`,
  '',
  '| route | req/s, mean (per round) | p99 (ms) | /health p99 (ms) | errors |',
  '| --- | ---: | ---: | ---: | ---: |',
  row(`\`/manual/${n}\`: \`pool.run()\` by hand`, totals.manual),
  row(`\`/offthread/${n}\`: \`@OffThread()\``, totals.offthread),
  '',
  `@OffThread() / pool.run() throughput: **${ratio.toFixed(3)}x** (means), ${medianRatio.toFixed(3)}x (medians).`,
].join('\n');
console.log(table);
console.log(
  JSON.stringify({ ratio, medianRatio, manual: totals.manual, offthread: totals.offthread }),
);

const readme = new URL('../README.md', import.meta.url);
const text = readFileSync(readme, 'utf8');
const start = '<!-- overhead:start -->';
const end = '<!-- overhead:end -->';
if (text.includes(start) && text.includes(end)) {
  writeFileSync(
    readme,
    `${text.slice(0, text.indexOf(start) + start.length)}\n${table}\n${text.slice(text.indexOf(end))}`,
  );
  try {
    const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
    spawnSync(process.execPath, [biome, 'format', '--write', fileURLToPath(readme)], {
      stdio: 'ignore',
    });
  } catch {}
  console.log('\nREADME.md updated.');
}
