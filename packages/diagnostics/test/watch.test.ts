import { describe, expect, it } from 'vitest';
import { fixture, node, runCli } from './helpers.js';

describe('offthread watch', () => {
  it('redraws a live view every second and ends at --duration', async () => {
    const r = await runCli(
      ['watch', '--duration', '3500ms', '--', node, fixture('busy-wait.mjs')],
      {
        env: { RUN_MS: '10000' },
      },
    );
    expect(r.code).toBe(0);
    const frames = r.stdout.split('offthread watch · ').length - 1;
    expect(frames).toBeGreaterThanOrEqual(3);
    expect(r.stdout).toMatch(/event loop {3}ELU \[[#.]{20}\]/);
    expect(r.stdout).toMatch(/last block \d+ ms in busyWait \(.*busy-wait\.mjs:4\)/);
    expect(r.stdout).toMatch(/thread pool {2}busy/);
  });
});
