import { afterEach, describe, expect, it } from 'vitest';
import { type Block, createMonitor, type Monitor } from '../src/index.js';

// Between blocks the monitor runs no JavaScript heartbeat: Node's native event-loop delay
// histograms time the loop, and a check four times a second reads them. These tests drive a
// monitor into that quiet state and block the loop for real.

function spinForBlock(ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nextBlock = (m: Monitor) => new Promise<Block>((r) => m.once('block', r));
/** Whether the JavaScript heartbeat runs (white-box: there is no public switch for it). */
const heartbeat = (m: Monitor) => (m as unknown as { watching: boolean }).watching;

/** Wait until the heartbeat has stopped (shortly after start, when nothing blocks). */
async function untilQuiet(m: Monitor) {
  const deadline = Date.now() + 10_000;
  while (heartbeat(m) && Date.now() < deadline) await sleep(50);
  expect(heartbeat(m)).toBe(false);
}

let monitor: Monitor | null = null;
afterEach(() => {
  monitor?.stop();
  monitor = null;
});

describe('block detection without the heartbeat', () => {
  it('finds a block from the native histograms, with its duration and the CPU it ran', async () => {
    monitor = createMonitor({ profileBlocks: false, routes: false }).start();
    await untilQuiet(monitor);
    const block = nextBlock(monitor);
    spinForBlock(200);
    const b = await block;
    // The duration reads up to one resolution (20 ms) short, as with the heartbeat.
    expect(b.duration).toBeGreaterThan(150);
    expect(b.duration).toBeLessThan(260);
    // The process's CPU time over the check window witnesses that it ran (how much depends on
    // what else the machine runs).
    expect(b.busyShare).toBeGreaterThan(0);
    expect(monitor.snapshot().sinceStart.eventLoop.blockCount).toBe(1);
    expect(monitor.snapshot().sinceStart.eventLoop.delay.max).toBeGreaterThan(150);
  });

  it('counts a block in the sample interval it ended in', async () => {
    monitor = createMonitor({ sampleInterval: 400, profileBlocks: false, routes: false }).start();
    await untilQuiet(monitor);
    // A sample reset drops the native tick in flight; the interval still shows the block.
    const sampled = new Promise<import('../src/index.js').Sample>((resolve) =>
      monitor!.on('sample', (s) => s.eventLoop.blockCount > 0 && resolve(s)),
    );
    spinForBlock(120);
    const s = await sampled;
    expect(s.eventLoop.blockCount).toBe(1);
    expect(s.eventLoop.delay.max).toBeGreaterThan(80);
    expect(s.eventLoop.blockedTime).toBeGreaterThan(80);
  });

  it('turns the heartbeat on after a block, so the blocks that recur are timed by it', async () => {
    monitor = createMonitor({ profileBlocks: false, routes: false }).start();
    await untilQuiet(monitor);
    const first = nextBlock(monitor);
    spinForBlock(150);
    await first;
    expect(heartbeat(monitor)).toBe(true);
    const blocks: Block[] = [];
    for (let i = 0; i < 3; i++) {
      const block = nextBlock(monitor);
      spinForBlock(100);
      blocks.push(await block);
      await sleep(30);
    }
    // Each one once: the native check does not report what the heartbeat already did.
    expect(monitor.snapshot().sinceStart.eventLoop.blockCount).toBe(4);
    for (const b of blocks) expect(b.duration).toBeGreaterThan(60);
  });

  it('catches a block that starts right after start(), before any native tick', async () => {
    monitor = createMonitor({ profileBlocks: false, routes: false }).start();
    const block = nextBlock(monitor);
    spinForBlock(120);
    expect((await block).duration).toBeGreaterThan(80);
  });

  it('stops its timers and histograms on stop(), and starts again', async () => {
    monitor = createMonitor({ profileBlocks: false, routes: false }).start();
    await untilQuiet(monitor);
    monitor.stop();
    const frozen = monitor.snapshot();
    spinForBlock(120);
    await sleep(300);
    expect(monitor.snapshot()).toBe(frozen);
    monitor.start();
    const block = nextBlock(monitor);
    spinForBlock(120);
    expect((await block).duration).toBeGreaterThan(80);
  });
});
