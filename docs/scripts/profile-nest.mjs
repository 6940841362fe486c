// Regenerates the Nest profiling page's evidence from apps/nest-sample: `offthread doctor` runs
// of the blocking and the @OffThread() route (text and JSON), a summary table, and screenshots of
// both HTML reports taken with headless Chromium. Not part of the build: run it by hand, after
// building the sample (pnpm --filter @offthread/nest-sample... build).
//   node docs/scripts/profile-nest.mjs            (about 1 minute)
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clean,
  doctor,
  load,
  out,
  prepare,
  repo,
  runner,
  screenshot,
  summaryTable,
} from './profile-lib.mjs';

const app = join(repo, 'apps/nest-sample');
if (!existsSync(join(app, 'dist/main.js')))
  throw new Error('apps/nest-sample is not built: pnpm --filter @offthread/nest-sample... build');
const work = prepare('offthread-docs-nest-');
const run = runner(app, { ...process.env, PORT: '0' });

const rows = [];
for (const [name, route] of [
  ['blocking', '/blocking/300'],
  ['offthread', '/offthread/300'],
]) {
  const { text, report } = doctor(run, { work, name, route, entry: 'dist/main.js' });
  writeFileSync(join(out, `nest-doctor-${name}.txt`), clean(text));
  // The load line of the text report: "...: 60 req/s, latency p50 103 ms, p99 407 ms".
  const m = /(\d+(?:\.\d+)?) req\/s, latency p50 (\d+(?:\.\d+)?) ms, p99 (\d+(?:\.\d+)?) ms/.exec(
    text,
  );
  const [rps, p50, p99] = m ? m.slice(1).map(Number) : [Number.NaN, Number.NaN, Number.NaN];
  rows.push({ route, rps, p50, p99, report });
}
writeFileSync(
  join(out, 'nest-summary.md'),
  summaryTable({
    latencyLabel: 'latency',
    rows,
    footnote: `by \`node docs/scripts/profile-nest.mjs\`: \`offthread doctor --load "${load} <route>"\` against apps/nest-sample`,
  }),
);

await screenshot(work, [
  ['blocking.html', 'nest-doctor-blocking.png'],
  ['offthread.html', 'nest-doctor-offthread.png'],
]);
rmSync(work, { recursive: true, force: true });
