import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../src/index.js';
import { fixture, node, runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'offthread-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a healthy HTTP server under load', () => {
  it('gets load from --load once it listens, and no false verdict', async () => {
    const json = join(dir, 'healthy.json');
    const r = await runCli([
      'doctor',
      '--json',
      json,
      '--load',
      '-c 8 -d 3 /',
      '--fail-on',
      'any',
      '--',
      node,
      fixture('hello-server.mjs'),
    ]);
    const report: RunReport = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.endReason).toBe('load-finished');
    expect(report.load!.requests.total).toBeGreaterThan(100);
    expect(report.load!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(report.verdict.kind).toBe('healthy');
    expect(r.stdout).toContain('Verdict: ✔ HEALTHY');
    expect(r.stdout).toMatch(/load: 8 connections/);
    expect(r.code).toBe(0);
    // Progress on stderr is a plain line when stderr is not a terminal, never a spinner.
    expect(r.stderr).not.toContain('\r');
  });
});
