#!/usr/bin/env node
// The whole test suite, in the order a failure is cheapest to find: build, lint, types,
// package checks, then the behaviour tests (one package at a time: they start real threads,
// servers and browsers, and this project's CI machine has 2 cores).
// `--tests-only` skips straight to the behaviour tests (CI uses it for the second Node version).
import { spawnSync } from 'node:child_process';

const testsOnly = process.argv.includes('--tests-only');
const steps = [
  ...(testsOnly
    ? []
    : [
        ['build', ['turbo', 'run', 'build', '--output-logs=errors-only']],
        ['lint', ['biome', 'ci', '.']],
        ['typecheck', ['turbo', 'run', 'typecheck', '--output-logs=errors-only']],
        [
          'package checks (publint, attw)',
          ['turbo', 'run', 'test:build', '--output-logs=errors-only'],
        ],
      ]),
  ['tests', ['turbo', 'run', 'test', '--concurrency=1', '--output-logs=full']],
];

const started = Date.now();
for (const [label, [bin, ...args]] of steps) {
  const t0 = Date.now();
  console.log(`\n▶ ${label} (node ${process.version})`);
  const result = spawnSync(bin, args, { stdio: 'inherit', shell: false, env: process.env });
  if (result.error) {
    console.error(
      `✖ ${label}: could not run ${bin}: ${result.error.message}. Run the install command from README.md first.`,
    );
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`✖ ${label} failed (exit ${result.status})`);
    process.exit(result.status ?? 1);
  }
  console.log(`✔ ${label} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
console.log(
  `\nAll checks passed on node ${process.version} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
