// Issue 12 §1 (overhead) with §3's GC finding kept right: GC pauses are observed in windows
// (`gcDutyCycle`), the rest estimated from them.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, diagnose, type Monitor } from '../src/index.js';

const monitors: Monitor[] = [];
afterEach(() => {
  for (const m of monitors.splice(0)) m.stop();
});
const start = (options: Parameters<typeof createMonitor>[0]) => {
  const m = createMonitor({ threadpool: false, pools: false, ...options }).start();
  monitors.push(m);
  return m;
};

/** Replace objects of a large live set for `ms`, yielding between rounds (as gc-churn.mjs). */
function churn(ms: number): Promise<void> {
  const live = new Array(400_000).fill(null);
  const until = Date.now() + ms;
  return new Promise((resolve) => {
    const round = () => {
      for (let i = 0; i < 100_000; i++) {
        live[(Math.random() * live.length) | 0] = { a: [i, i + 1, i + 2], s: `item ${i}` };
      }
      if (Date.now() < until) setImmediate(round);
      else resolve();
    };
    round();
  });
}

describe('GC observed in windows', () => {
  it('finds an allocation-heavy app GC-heavy from windows, close to observing every collection', async () => {
    const always = start({ gcDutyCycle: 1 });
    const windows = start({ gcDutyCycle: 0.25 });
    await churn(4500);
    const exact = always.snapshot().sinceStart;
    const estimated = windows.snapshot().sinceStart;
    expect(exact.process.gc!.observed).toBe(1);
    const gc = estimated.process.gc!;
    // Windows of 1 s in every 4 s: about a third of this run was observed, the rest estimated.
    expect(gc.observed).toBeGreaterThan(0.2);
    expect(gc.observed).toBeLessThan(0.9);
    expect(gc.share).toBeGreaterThan(0.1);
    expect(gc.pauseMs).toBeGreaterThan(exact.process.gc!.pauseMs * 0.4);
    expect(gc.pauseMs).toBeLessThan(exact.process.gc!.pauseMs * 2.5);
    const finding = diagnose({ sinceStart: estimated, blocks: [] }).findings.find(
      (f) => f.kind === 'gc-pressure',
    );
    // The evidence says the figures are estimates.
    expect(finding?.evidence[0]).toMatch(/estimated from the \d+% of the run that was observed/);
    // A sample interval no window covered still reports GC, at the last window's rates.
    const unobserved = windows.history().filter((s) => s.process.gc!.observed! < 0.25);
    expect(unobserved.length).toBeGreaterThan(0);
    for (const s of unobserved) expect(s.process.gc!.pauseMs).toBeGreaterThan(0);
  }, 30_000);

  it('gives no GC verdict to a healthy HTTP server observed in windows (the default)', async () => {
    const server = createServer((_req, res) => res.end('hello world'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const monitor = start({ gcDutyCycle: 0.5 });
    const get = () =>
      new Promise<void>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/' }, (res) => {
          res.resume().on('end', resolve);
        })
          .on('error', reject)
          .end();
      });
    const until = Date.now() + 4500;
    try {
      while (Date.now() < until) await Promise.all(Array.from({ length: 8 }, get));
    } finally {
      server.close();
    }
    const { sinceStart } = monitor.snapshot();
    const gc = sinceStart.process.gc!;
    expect(gc.count).toBeGreaterThan(0);
    expect(gc.observed).toBeLessThan(0.9);
    expect(diagnose({ sinceStart, blocks: [] }).findings.map((f) => f.kind)).not.toContain(
      'gc-pressure',
    );
  }, 30_000);

  it('observes a tenth of the time by default; the option is validated', () => {
    expect(createMonitor().options.gcDutyCycle).toBe(0.1);
    expect(() => createMonitor({ gcDutyCycle: 0 })).toThrow(
      new RangeError(
        'options.gcDutyCycle must be a number in (0, 1] (1 observes every collection), got 0',
      ),
    );
    expect(() => createMonitor({ gcDutyCycle: 1.5 })).toThrow(RangeError);
    expect(() => createMonitor({ gcDutyCycle: '1' as never })).toThrow(
      /options\.gcDutyCycle must be a number/,
    );
  });
});
