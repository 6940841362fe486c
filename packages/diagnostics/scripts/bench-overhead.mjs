// Overhead of the monitor on a hello-world HTTP server: the same server with and without the
// preload, driven by autocannon, alternating rounds in one run. Not part of `test`.
//   node scripts/bench-overhead.mjs [--rounds 3] [--duration 5] [--connections 8]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const server = join(here, '..', 'test', 'fixtures', 'hello-server.mjs');
const preload = pathToFileURL(join(here, '..', 'dist', 'preload.js')).href;
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const rounds = arg('rounds', 3);
const duration = arg('duration', 5);
const connections = arg('connections', 8);

async function once(monitored) {
  const dir = mkdtempSync(join(tmpdir(), 'offthread-bench-'));
  const env = { ...process.env, PRINT_PORT: '1' };
  if (monitored) {
    env.NODE_OPTIONS = `--import=${JSON.stringify(preload)}`;
    env.OFFTHREAD_DIAG_OUT = join(dir, 'records.ndjson');
    if (process.env.BENCH_OPTIONS) env.OFFTHREAD_DIAG_OPTIONS = process.env.BENCH_OPTIONS;
  }
  const child = spawn(process.execPath, [server], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not start')), 10_000);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      const m = /listening on (\d+)/.exec(d);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  // Warm up, then measure.
  await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration: 1 });
  const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration });
  child.kill('SIGINT');
  await new Promise((r2) => child.once('close', r2));
  rmSync(dir, { recursive: true, force: true });
  return r.requests.average;
}

const base = [];
const mon = [];
const ratios = [];
for (let i = 0; i < rounds; i++) {
  // Alternate the order so a drifting machine load does not favour one side.
  if (i % 2 === 0) {
    base.push(await once(false));
    mon.push(await once(true));
  } else {
    mon.push(await once(true));
    base.push(await once(false));
  }
  ratios.push(mon.at(-1) / base.at(-1));
  console.log(
    `round ${i + 1}: without ${Math.round(base.at(-1))} req/s, with monitor ${Math.round(mon.at(-1))} req/s`,
  );
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const b = median(base);
const m = median(mon);
const ratio = median(ratios);
console.log(
  `\nhello-world HTTP, ${connections} connections, ${duration} s x ${rounds} rounds, Node ${process.version}:\n` +
    `  without monitor ${Math.round(b)} req/s (median)\n  with monitor    ${Math.round(m)} req/s (median)\n` +
    `  median per-round ratio ${ratio.toFixed(3)} → throughput loss ${((1 - ratio) * 100).toFixed(1)}%`,
);
