// The app under measurement for bench/overhead.mjs: two routes, and /__cpu, which returns this
// process's own CPU time so the bench can count CPU per request over a fixed number of requests.
//   BENCH_MODE=none|defaults|production|prom-client|custom<i>
//   (custom<i>: createMonitor(JSON.parse(BENCH_CUSTOM)[i]), to weigh single options)
import { readFile } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const mode = process.env.BENCH_MODE ?? 'none';
const file = fileURLToPath(import.meta.url);
let monitor = null;
if (mode === 'defaults' || mode === 'production' || mode.startsWith('custom')) {
  const { createMonitor } = await import('../dist/index.js');
  const options =
    mode === 'production'
      ? { mode: 'production' }
      : mode.startsWith('custom')
        ? JSON.parse(process.env.BENCH_CUSTOM ?? '[]')[Number(mode.slice(6))]
        : {};
  monitor = createMonitor(options).start();
} else if (mode === 'prom-client') {
  const { collectDefaultMetrics } = await import('prom-client');
  collectDefaultMetrics();
} else if (mode !== 'none') {
  throw new Error(`unknown BENCH_MODE ${mode}`);
}

const server = http.createServer((req, res) => {
  if (req.url === '/file') {
    readFile(file, (err, data) => {
      res.setHeader('content-type', 'text/plain');
      res.end(err ? 'error' : String(data.length));
    });
  } else if (req.url === '/__cpu') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(process.cpuUsage()));
  } else {
    res.setHeader('content-type', 'text/plain');
    res.end('hello world');
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on ${server.address().port}\n`);
});
process.on('SIGTERM', () => {
  monitor?.stop();
  if (monitor && process.env.BENCH_DEBUG) {
    const { sinceStart, profile } = monitor.snapshot();
    const { threadpool, eventLoop } = sinceStart;
    console.error(
      mode,
      JSON.stringify({
        counting: threadpool.counting,
        samplesCounting: monitor.history().filter((x) => x.threadpool.counting).length,
        samples: monitor.history().length,
        blocks: eventLoop.blocks.map((b) => [b.duration, b.busyShare]),
        profilerSamples: profile.samples,
      }),
    );
  }
  server.close();
  process.exit(0);
});
