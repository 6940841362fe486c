// Regenerates the profiling page's evidence from the docs' Express sample (snippets/express):
// `offthread doctor` runs of the blocking and the off-thread route (text, JSON, HTML), a Clinic.js
// doctor report of the blocking route, /health latency under load, and screenshots of both
// HTML reports taken with headless Chromium. Not part of the build: run it by hand.
//   node docs/scripts/profile.mjs            (about 2 minutes)
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  clean,
  docs,
  doctor,
  load,
  out,
  prepare,
  runner,
  screenshot,
  summaryTable,
} from './profile-lib.mjs';

const app = join(docs, 'snippets/express');
const work = prepare('offthread-docs-profile-');
const run = runner(app);
// Clinic.js is a dev dependency of @offthread/core (its Clinic test) and of the sample apps.
const clinicBin = createRequire(join(docs, '../packages/core/package.json')).resolve(
  'clinic/bin.js',
);

const rows = [];
for (const [name, route] of [
  ['blocking', '/fib-blocking?n=30'],
  ['offthread', '/fib?n=30'],
]) {
  const { text, report } = doctor(run, { work, name, route, entry: 'server.mjs' });
  writeFileSync(join(out, `doctor-${name}.txt`), clean(text));
  // /health probed every 50 ms by 8 clients for 10 s while the route is loaded.
  const health = JSON.parse(
    run(`health under load ${route}`, ['health-under-load.mjs', route, '10', '8']),
  );
  rows.push({
    route,
    rps: health.requestsPerSecond,
    p50: health.healthP50Ms,
    p99: health.healthP99Ms,
    report,
  });
}
writeFileSync(
  join(out, 'summary.md'),
  summaryTable({
    latencyLabel: '`/health`',
    rows,
    footnote:
      'by `node docs/scripts/profile.mjs`: 8 concurrent clients for 10 s, `/health` probed every 50 ms meanwhile',
  }),
);

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
  { ...process.env, NO_INSIGHT: '1', CI: 'true' },
);
const clinicHtml = readdirSync(work).find((f) => f.endsWith('.clinic-doctor.html'));
if (!clinicHtml) throw new Error(`no Clinic report in ${work}`);

await screenshot(work, [
  [clinicHtml, 'clinic-doctor-blocking.png'],
  ['blocking.html', 'offthread-doctor-blocking.png'],
  ['offthread.html', 'offthread-doctor-offthread.png'],
]);
rmSync(work, { recursive: true, force: true });
