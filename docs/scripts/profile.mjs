// Regenerates the profiling page's evidence from the docs' Express sample (snippets/express):
// `offthread doctor` runs of the blocking and the off-thread route (text, JSON, HTML), a Clinic.js
// doctor report of the blocking route, /health latency under load, and screenshots of both
// HTML reports taken with headless Chromium. Not part of the build: run it by hand.
//   node scripts/profile.mjs            (about 2 minutes)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const docs = fileURLToPath(new URL('..', import.meta.url));
const app = join(docs, 'snippets/express');
const out = join(docs, 'measurements');
const shots = join(docs, 'public/screenshots');
const work = mkdtempSync(join(tmpdir(), 'offthread-docs-profile-'));
mkdirSync(out, { recursive: true });
mkdirSync(shots, { recursive: true });

const offthreadBin = createRequire(join(docs, 'package.json'))
  .resolve('@offthread/diagnostics/package.json')
  .replace(/package\.json$/, 'bin/offthread.js');
// Clinic.js is a dev dependency of @offthread/core (its Clinic test) and of the sample apps.
const clinicBin = createRequire(join(docs, '../packages/core/package.json')).resolve(
  'clinic/bin.js',
);

const load = '-c 8 -d 10';
const run = (label, args, options = {}) => {
  console.log(`> ${label}`);
  const r = spawnSync(process.execPath, args, { cwd: app, encoding: 'utf8', ...options });
  if (r.status !== 0) throw new Error(`${label} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};
// Output shown on the site must not carry this machine's paths: the checkout (docs/ first, then
// the repository root, e.g. packages/core/dist/...) and the Node binary.
const repo = fileURLToPath(new URL('../..', import.meta.url));
const clean = (text) =>
  text
    .replaceAll(docs, 'docs/')
    .replaceAll('docs//', 'docs/')
    .replaceAll(repo, '')
    .replaceAll(process.execPath, 'node')
    .replace(/pid \d+/, 'pid 1234');

const rows = [];
for (const [name, route] of [
  ['blocking', '/fib-blocking?n=30'],
  ['offthread', '/fib?n=30'],
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
    'server.mjs',
  ]);
  writeFileSync(join(out, `doctor-${name}.txt`), clean(text).replace(/\nWrote .*\n?$/, '\n'));
  const health = JSON.parse(
    run(`health under load ${route}`, ['health-under-load.mjs', route, '10', '8']),
  );
  const doctor = JSON.parse(readFileSync(join(work, `${name}.json`), 'utf8'));
  rows.push({ name, route, health, doctor });
}

// The table the profiling page includes, so prose and numbers come from the same run.
const fmt = (n) => (n >= 100 ? Math.round(n) : Math.round(n * 10) / 10);
const table = [
  '| route | requests/s | `/health` p50 | `/health` p99 | event-loop delay p99 | ELU | blocks > 50 ms |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(({ route, health, doctor }) => {
    const loop = doctor.sinceStart.eventLoop;
    return `| \`${route}\` | ${fmt(health.requestsPerSecond)} | ${fmt(health.healthP50Ms)} ms | ${fmt(health.healthP99Ms)} ms | ${fmt(loop.delay.p99)} ms | ${Math.round(loop.utilization * 100)}% | ${loop.blockCount} |`;
  }),
  '',
  `_Measured ${new Date().toISOString().slice(0, 10)} on ${os.availableParallelism()} cores, Node ${process.version}, by \`node docs/scripts/profile.mjs\`: 8 concurrent clients for 10 s, \`/health\` probed every 50 ms meanwhile._`,
  '',
];
writeFileSync(join(out, 'summary.md'), table.join('\n'));

run(
  'clinic doctor /fib-blocking',
  [
    clinicBin,
    'doctor',
    '--open=false',
    '--dest',
    work,
    '--autocannon',
    '[',
    ...load.split(' '),
    '/fib-blocking?n=30',
    ']',
    '--',
    process.execPath,
    'server.mjs',
  ],
  { env: { ...process.env, NO_INSIGHT: '1', CI: 'true' } },
);
const clinicHtml = readdirSync(work).find((f) => f.endsWith('.clinic-doctor.html'));
if (!clinicHtml) throw new Error(`no Clinic report in ${work}`);

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
for (const [file, shot] of [
  [clinicHtml, 'clinic-doctor-blocking.png'],
  ['blocking.html', 'offthread-doctor-blocking.png'],
  ['offthread.html', 'offthread-doctor-offthread.png'],
]) {
  await page.goto(`file://${join(work, file)}`, { waitUntil: 'load' });
  await page.waitForTimeout(2000); // charts render after load
  await page.screenshot({ path: join(shots, shot) }); // the first screen: verdict and charts
  console.log(`screenshot ${shot}`);
}
await browser.close();
rmSync(work, { recursive: true, force: true });
