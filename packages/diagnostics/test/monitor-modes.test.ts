import { pbkdf2, pbkdf2Sync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Block,
  createMonitor,
  defaultMonitorOptions,
  type Monitor,
  productionMonitorOptions,
} from '../src/index.js';

function spinForBlock(ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

const nextBlock = (m: Monitor) => new Promise<Block>((r) => m.once('block', r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let monitor: Monitor | null = null;
afterEach(() => {
  monitor?.stop();
  monitor = null;
});

describe("mode: 'production'", () => {
  it('resolves to the documented preset, and explicit options still win', () => {
    expect(createMonitor({ mode: 'production' }).options).toEqual({
      ...defaultMonitorOptions,
      ...productionMonitorOptions,
    });
    expect(createMonitor({ mode: 'production', profilerInterval: 5000 }).options).toMatchObject({
      mode: 'production',
      profileBlocks: 'after-block',
      profilerInterval: 5000,
    });
    expect(() => createMonitor({ mode: 'fast' as never })).toThrow(
      /options\.mode must be 'development' or 'production'/,
    );
  });

  it('has no profiler until a block, then gives the blocks that recur their stack', async () => {
    monitor = createMonitor({ mode: 'production', blockThreshold: 40 }).start();
    await sleep(50);
    const blocks: Block[] = [];
    for (let i = 0; i < 4; i++) {
      const block = nextBlock(monitor);
      spinForBlock(150);
      blocks.push(await block);
      await sleep(50);
    }
    // The first block ran before any profiler: no stack, no cost until then.
    expect(blocks[0]!.stack).toEqual([]);
    // The ones that recur get a stack in this file. (V8 logs code optimized before the
    // profiler started without its inlining, so until it is re-optimized the frame may be the
    // caller of the spinning function rather than the function itself.)
    for (const b of blocks.slice(1)) {
      expect(b.stack[0]?.file).toBe(fileURLToPath(import.meta.url));
    }
    expect(monitor.snapshot().profile.enabled).toBe(true);
  });
});

describe('thread-pool counting on queueing', () => {
  it('does not count while the pool keeps up', async () => {
    monitor = createMonitor({ probeInterval: 50 }).start();
    for (let i = 0; i < 20; i++) await readFile(new URL(import.meta.url));
    await sleep(300);
    const tp = monitor.snapshot().sinceStart.threadpool;
    expect(tp.enabled).toBe(true);
    expect(tp.counting).toBe(false);
    expect(tp.peak.queued).toBe(0);
  });

  it('switches counting on when the canary waits, and then sees the queue', async () => {
    monitor = createMonitor({ probeInterval: 50 }).start();
    const wave = () =>
      Promise.all(
        Array.from(
          // 32 hashes for libuv's 4 threads: the queue stays non-empty for most of each wave.
          { length: 32 },
          () => new Promise((r) => pbkdf2('secret', 'salt', 30_000, 32, 'sha256', r)),
        ),
      );
    // Load until counting has switched on (three waiting canaries in a row; later on a busy
    // machine), then 2 s more, so the whole-run saturation is mostly measured while counting.
    const switchDeadline = Date.now() + 10_000;
    while (!monitor.snapshot().sinceStart.threadpool.counting && Date.now() < switchDeadline)
      await wave();
    const until = Date.now() + 2000;
    while (Date.now() < until) await wave();
    const tp = monitor.snapshot().sinceStart.threadpool;
    expect(tp.counting).toBe(true);
    expect(tp.peak.queued).toBeGreaterThan(0);
    expect(tp.wait.p99).toBeGreaterThan(5);
    expect(tp.saturation).toBeGreaterThan(0.3);
  });

  it('credits the saturation its waiting canaries proved before counting switched on', async () => {
    // The pool is saturated before the monitor starts and stays so: 32 hashes in flight.
    let pumping = true;
    let inFlight = 0;
    let drained: () => void = () => {};
    const pump = () => {
      while (pumping && inFlight < 32) {
        inFlight++;
        pbkdf2('secret', 'salt', 20_000, 32, 'sha256', () => {
          inFlight--;
          if (pumping) pump();
          else if (inFlight === 0) drained();
        });
      }
    };
    pump();
    try {
      monitor = createMonitor({ probeInterval: 50 }).start();
      const deadline = Date.now() + 15_000;
      while (!monitor.snapshot().sinceStart.threadpool.counting && Date.now() < deadline)
        await sleep(10);
      const tp = monitor.snapshot().sinceStart.threadpool;
      expect(tp.counting).toBe(true);
      // Every canary since start waited: the whole run so far was saturated, not only the
      // last canary's wait (which read about a third of the run before).
      expect(tp.saturation).toBeGreaterThan(0.7);
    } finally {
      pumping = false;
      await new Promise<void>((r) => {
        drained = r;
        if (inFlight === 0) r();
      });
    }
  });

  it("counts from the start with threadpoolCounting: 'always'", async () => {
    monitor = createMonitor({ threadpoolCounting: 'always' }).start();
    pbkdf2Sync('a', 'b', 1, 16, 'sha256');
    await readFile(new URL(import.meta.url));
    const tp = monitor.snapshot().sinceStart.threadpool;
    expect(tp.counting).toBe(true);
    expect(tp.completed).toBeGreaterThan(0);
  });
});

describe('routes', () => {
  it('by default, names the route of the blocks that recur (subscribed at the first block)', async () => {
    monitor = createMonitor({ blockThreshold: 40 }).start();
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith('/slow')) spinForBlock(120);
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    try {
      const blocks: Block[] = [];
      for (let i = 0; i < 3; i++) {
        const block = nextBlock(monitor);
        await fetch(`http://127.0.0.1:${port}/slow/${i}?q=1`).then((r) => r.text());
        blocks.push(await block);
        await sleep(60);
      }
      expect(blocks[0]!.route).toBeUndefined();
      // (A block the loaded machine starved of CPU does not subscribe; the next one does.)
      expect(blocks.at(-1)!.route).toEqual({ method: 'GET', path: '/slow/2' });
    } finally {
      server.close();
    }
  });
});
