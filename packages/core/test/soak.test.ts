import { Pool } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { fixture, waitFor } from './helpers.js';

/** Deterministic so a failure can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe('fault-injection soak', () => {
  it('every promise settles exactly once, the pool keeps its size, close() leaves no thread', async () => {
    const pool = new Pool({
      filename: fixture('soak.mjs'),
      minThreads: 2,
      maxThreads: 2,
      maxQueue: Number.POSITIVE_INFINITY,
      abortGracePeriod: 50,
    });
    let started = 0;
    let exited = 0;
    pool.on('threadStart', () => started++);
    pool.on('threadExit', () => exited++);
    const rand = random(42);
    const total = 3000;
    const settled = new Uint8Array(total);
    const outcomes: Record<string, number> = {};
    const promises: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const roll = rand();
      let kind = 'ok';
      let timeout: number | undefined;
      let signal: AbortSignal | undefined;
      if (roll < 0.01) kind = 'crash';
      else if (roll < 0.02) {
        kind = 'hang';
        timeout = 20;
      } else if (roll < 0.07) kind = 'throw';
      else if (roll < 0.1) {
        kind = 'slow';
        const controller = new AbortController();
        signal = controller.signal;
        setTimeout(() => controller.abort(), Math.floor(rand() * 20));
      }
      const ms = kind === 'hang' ? 2_000 : kind === 'slow' ? 30 : i;
      promises.push(
        pool.run({ kind, ms }, { timeout, signal }).then(
          () => {
            settled[i] = (settled[i] ?? 0) + 1;
            outcomes.ok = (outcomes.ok ?? 0) + 1;
          },
          (error) => {
            settled[i] = (settled[i] ?? 0) + 1;
            const code = error.code ?? error.message;
            outcomes[code] = (outcomes[code] ?? 0) + 1;
          },
        ),
      );
      // Let the pool work between bursts, so faults hit a busy pool at random moments.
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(promises);
    // Give any late message a chance to (wrongly) settle something twice.
    await new Promise((r) => setTimeout(r, 200));
    expect(
      [...settled].every((count) => count === 1),
      JSON.stringify(outcomes),
    ).toBe(true);
    expect(outcomes['soak throw']).toBeGreaterThan(0);
    expect(outcomes.ERR_OFFTHREAD_WORKER_EXIT).toBeGreaterThan(0);
    expect(outcomes.ERR_OFFTHREAD_TIMEOUT).toBeGreaterThan(0);
    expect(outcomes.ERR_OFFTHREAD_ABORTED).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(total * 0.8);
    // A thread replaced at the very end may still be starting on a loaded machine: closing it
    // then would end it before its threadStart, so wait until both threads are up.
    await waitFor(() => started - exited === 2, 30_000);
    const stats = pool.stats();
    expect(stats.threads, JSON.stringify(outcomes)).toBe(2);
    expect(stats.completed + stats.failed, JSON.stringify(stats)).toBe(total);
    await pool.close();
    expect(pool.stats().threads).toBe(0);
    expect(exited).toBe(started);
  }, 120_000);
});
