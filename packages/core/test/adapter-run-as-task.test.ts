import { runAsTask } from '@offthread/core/adapter';
import { currentTask, isOffThreadWorker } from '@offthread/core/worker';
import { describe, expect, it } from 'vitest';

// Adapters that run a task body on the main thread (Nest's inline test mode) had no way to give
// it a currentTask(): code written for a thread threw "outside an offthread pool thread".
describe('runAsTask(): a body run on this thread as a task', () => {
  it('currentTask() works inside it, across awaits, with the given name and signal', async () => {
    const controller = new AbortController();
    const seen = await runAsTask(
      async () => {
        const before = currentTask();
        await new Promise((resolve) => setTimeout(resolve, 5));
        const after = currentTask();
        return { same: before === after, name: after.name, signal: after.signal };
      },
      { name: 'render', signal: controller.signal },
    );
    expect(seen).toEqual({ same: true, name: 'render', signal: controller.signal });
    expect(isOffThreadWorker()).toBe(false);
  });

  it('outside it, currentTask() still throws, and concurrent bodies each see their own task', async () => {
    expect(() => currentTask()).toThrow(/outside an offthread pool thread/);
    const names = await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        runAsTask(
          async () => {
            await new Promise((resolve) => setTimeout(resolve, name === 'a' ? 10 : 1));
            return currentTask().name;
          },
          { name },
        ),
      ),
    );
    expect(names).toEqual(['a', 'b', 'c']);
  });

  it('without a signal the task gets one that never aborts; progress reaches onProgress as a copy', () => {
    const reports: unknown[] = [];
    const report = { done: 1 };
    runAsTask(
      () => {
        expect(currentTask().signal.aborted).toBe(false);
        currentTask().progress(report);
        report.done = 2;
        currentTask().progress(report);
        expect(() => currentTask().progress(() => {})).toThrow(/could not be cloned/);
      },
      { onProgress: (value) => reports.push(value) },
    );
    expect(reports).toEqual([{ done: 1 }, { done: 2 }]);
  });

  it('returns what the body returns and throws what it throws', () => {
    expect(runAsTask(() => 42)).toBe(42);
    expect(() =>
      runAsTask(() => {
        throw new RangeError('no');
      }),
    ).toThrow(RangeError);
    expect(() => runAsTask('nope' as never)).toThrow(/runAsTask\(body\) expects a function/);
  });
});
