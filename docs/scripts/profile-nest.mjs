// Regenerates the Nest profiling page's evidence from apps/nest-sample: `offthread doctor` runs
// of the blocking and the @OffThread() route (text and JSON), a summary table, and screenshots of
// both HTML reports taken with headless Chromium. Not part of the build: run it by hand, after
// building the sample (pnpm --filter @offthread/nest-sample... build).
//   node docs/scripts/profile-nest.mjs            (about 1 minute)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const docs = fileURLToPath(new URL('..', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));
const app = join(repo, 'apps/nest-sample');
const out = join(docs, 'measurements');
const shots = join(docs, 'public/screenshots');
const work = mkdtempSync(join(tmpdir(), 'offthread-docs-nest-'));
if (!existsSync(join(app, 'dist/main.js')))
  throw new Error('apps/nest-sample is not built: pnpm --filter @offthread/nest-sample... build');

const offthreadBin = createRequire(join(docs, 'package.json'))
  .resolve('@offthread/diagnostics/package.json')
  .replace(/package\.json$/, 'bin/offthread.js');

const load = '-c 8 -d 10';
const run = (label, args) => {
  console.log(`> ${label}`);
  const r = spawnSync(process.execPath, args, {
    cwd: app,
    encoding: 'utf8',
    env: { ...process.env, PORT: '0' },
  });
  if (r.status !== 0) throw new Error(`${label} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};
// Output shown on the site must not carry this machine's paths or pids.
const clean = (text) =>
  text
    .replaceAll(repo, '')
    .replaceAll(process.execPath, 'node')
    .replace(/pid \d+/, 'pid 1234')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:3001')
    .replace(/\nWrote .*\n?$/, '\n');

const rows = [];
for (const [name, route] of [
  ['blocking', '/blocking/300'],
  ['offthread', '/offthread/300'],
]) {
  const text = run(`offthread doctor ${route}`, [
    offthreadBin,
    'doctor',
    '--quiet',
    '--load',
    `${load} ${route}`,
    '--html',
    join(work, `${name}.html`),
    '--json',
    join(work, `${name}.json`),
    '--',
    process.execPath,
    'dist/main.js',
  ]);
  writeFileSync(join(out, `nest-doctor-${name}.txt`), clean(text));
  rows.push({
    name,
    route,
    text,
    doctor: JSON.parse(readFileSync(join(work, `${name}.json`), 'utf8')),
  });
}

const fmt = (n) => (n >= 100 ? Math.round(n) : Math.round(n * 10) / 10);
const table = [
  '| route | requests/s | latency p50 | latency p99 | event-loop delay p99 | ELU | blocks > 50 ms |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(({ route, text, doctor }) => {
    const loop = doctor.sinceStart.eventLoop;
    // The load line of the text report: "...: 60 req/s, latency p50 103 ms, p99 407 ms".
    const m = /(\d+(?:\.\d+)?) req\/s, latency p50 (\d+(?:\.\d+)?) ms, p99 (\d+(?:\.\d+)?) ms/.exec(
      text,
    );
    const [rps, p50, p99] = m ? m.slice(1).map(Number) : [Number.NaN, Number.NaN, Number.NaN];
    return `| \`${route}\` | ${fmt(rps)} | ${fmt(p50)} ms | ${fmt(p99)} ms | ${fmt(loop.delay.p99)} ms | ${Math.round(loop.utilization * 100)}% | ${loop.blockCount} |`;
  }),
  '',
  `_Measured ${new Date().toISOString().slice(0, 10)} on ${os.availableParallelism()} cores (1-minute load average ${os.loadavg()[0].toFixed(1)} at the end: other work on the machine makes every number noisier), Node ${process.version}, by \`node docs/scripts/profile-nest.mjs\`: \`offthread doctor --load "${load} <route>"\` against apps/nest-sample._`,
  '',
];
writeFileSync(join(out, 'nest-summary.md'), table.join('\n'));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
// The HTML reports name this machine's paths too: clean them before the screenshots.
for (const file of readdirSync(work).filter((f) => f.endsWith('.html'))) {
  const path = join(work, file);
  writeFileSync(
    path,
    readFileSync(path, 'utf8').replaceAll(repo, '').replaceAll(process.execPath, 'node'),
  );
}
for (const name of ['blocking', 'offthread']) {
  await page.goto(`file://${join(work, `${name}.html`)}`, { waitUntil: 'load' });
  await page.waitForTimeout(2000); // charts render after load
  await page.screenshot({ path: join(shots, `nest-doctor-${name}.png`) });
  console.log(`screenshot nest-doctor-${name}.png`);
}
await browser.close();
rmSync(work, { recursive: true, force: true });
