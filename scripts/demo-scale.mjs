#!/usr/bin/env node
// `pnpm demo:scale`: the Express sample's CPU route served by two worker processes through
// Redis. Starts a redis-server on a free loopback port (no persistence), two
// `offthread-bullmq serve` workers standing in for two machines, and the sample's
// /offthread/:n route and /health on a RemotePool; drives a bounded load on the heavy route,
// then prints how many tasks each worker ran and how /health answered meanwhile.
//
// This file is also the app process: `node scripts/demo-scale.mjs --app <redis-url> <port>`.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const sample = join(root, 'apps/express-sample');
const sampleSrc = join(sample, 'src');
const bullmqDist = join(root, 'packages/bullmq/dist');
const QUEUE = 'demo-scale';
const N = Number(process.env.DEMO_N ?? 30); // fib(30): ~10 ms of one core
const SECONDS = Number(process.env.DEMO_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.DEMO_CONNECTIONS ?? 6);

/** The sample's heavy route and /health, with the work on a RemotePool instead of a local Pool. */
async function app(redisUrl, port) {
  const require = createRequire(join(sample, 'package.json'));
  const express = (await import(pathToFileURL(require.resolve('express')).href)).default;
  const { offThread } = await import(pathToFileURL(require.resolve('@offthread/express')).href);
  const { RemotePool } = await import(pathToFileURL(join(bullmqDist, 'index.js')).href);
  const pool = new RemotePool({ queue: QUEUE, connection: redisUrl, root: sampleSrc });
  await pool.connect();
  const server = express();
  server.get('/health', (_req, res) => res.json({ status: 'ok' }));
  const route = offThread(new URL('./handlers/fibonacci.js', pathToFileURL(`${sampleSrc}/`)), {
    pool,
    timeout: 10_000,
  });
  server.get('/offthread/:n', route);
  server.get('/remote-stats', (_req, res) => res.json(pool.stats()));
  await route.ready;
  server.listen(port, '127.0.0.1', () => console.log(`app listening on http://127.0.0.1:${port}`));
  process.once('SIGTERM', async () => {
    await pool.close({ timeout: 2000 });
    process.exit(0);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const children = [];
function start(label, command, args, ready, timeoutMs = 30_000) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label} did not start:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk) => {
      output += chunk;
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : 0;
}

async function main() {
  const check = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (check.error) {
    console.error(
      'redis-server was not found on PATH. Install it, then run `pnpm demo:scale` again:\n' +
        '  Debian/Ubuntu: sudo apt-get install redis-server\n' +
        '  macOS:         brew install redis\n' +
        '  Fedora:        sudo dnf install redis',
    );
    process.exit(1);
  }
  const redisPort = await freePort();
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const appPort = await freePort();
  const base = `http://127.0.0.1:${appPort}`;
  try {
    process.stderr.write(`starting redis-server on ${redisUrl} (no persistence)\n`);
    await start(
      'redis-server',
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      /Ready to accept connections/,
    );
    const workers = ['worker-a', 'worker-b'];
    process.stderr.write(`starting two workers (${workers.join(', ')}), 1 thread each\n`);
    await Promise.all(
      workers.map((id) =>
        start(
          id,
          process.execPath,
          [
            join(bullmqDist, 'cli.js'),
            'serve',
            '--queue',
            QUEUE,
            '--root',
            sampleSrc,
            '--redis',
            redisUrl,
            '--threads',
            '1',
            '--id',
            id,
          ],
          /serving queue/,
        ),
      ),
    );
    process.stderr.write(`starting the Express sample's routes on a RemotePool at ${base}\n`);
    await start(
      'app',
      process.execPath,
      [fileURLToPath(import.meta.url), '--app', redisUrl, String(appPort)],
      /listening on/,
    );

    process.stderr.write(
      `driving GET /offthread/${N} with ${CONNECTIONS} connections for ${SECONDS} s while probing /health\n`,
    );
    const end = Date.now() + SECONDS * 1000;
    const statuses = new Map();
    const heavy = [];
    const client = async () => {
      while (Date.now() < end) {
        const t = performance.now();
        try {
          const res = await fetch(`${base}/offthread/${N}`);
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.ok) heavy.push(performance.now() - t);
        } catch {
          statuses.set('error', (statuses.get('error') ?? 0) + 1);
        }
      }
    };
    const health = [];
    const probe = async () => {
      while (Date.now() < end) {
        const t = performance.now();
        await (await fetch(`${base}/health`)).arrayBuffer();
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await Promise.all([...Array.from({ length: CONNECTIONS }, client), probe()]);
    await new Promise((r) => setTimeout(r, 1200)); // one more worker report
    const stats = await (await fetch(`${base}/remote-stats`)).json();

    heavy.sort((a, b) => a - b);
    health.sort((a, b) => a - b);
    const ms = (v) => `${v.toFixed(1)} ms`;
    console.log(
      `\n/offthread/${N}: ${heavy.length} answered in ${SECONDS} s (${(heavy.length / SECONDS).toFixed(1)}/s), statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    console.log(`  latency p50 ${ms(percentile(heavy, 0.5))}, p99 ${ms(percentile(heavy, 0.99))}`);
    console.log('\nwhich worker ran what:');
    for (const w of stats.remote.workers) {
      console.log(
        `  ${w.id.padEnd(10)} pid ${w.pid}  threads ${w.threads}  completed ${w.completed}  failed ${w.failed}`,
      );
    }
    console.log(
      `\n/health while loaded: ${health.length} probes, p50 ${ms(percentile(health, 0.5))}, p99 ${ms(percentile(health, 0.99))}, max ${ms(health.at(-1) ?? 0)}`,
    );
    console.log(`queue now: waiting ${stats.remote.waiting}, active ${stats.remote.active}`);
  } finally {
    for (const child of children.reverse()) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

if (process.argv[2] === '--app') {
  await app(process.argv[3], Number(process.argv[4]));
} else {
  await main();
}
