// Unit tests of the dispatcher's plain functions, the task queue and the function table: no
// threads, just the rules the pool relies on.
import { describe, expect, it } from 'vitest';
import {
  batchAhead,
  blame,
  MAX_BATCH_AHEAD,
  planDispatch,
  threadsToStart,
  waitingCount,
} from '../src/dispatcher.js';
import { FunctionTable } from '../src/function-table.js';
import { TaskQueue } from '../src/queue/task-queue.js';

interface FakeTask {
  id: number;
  priority: number;
  queued: boolean;
  batchable: boolean;
  fn: { averageRunTime: number };
}
const task = (id: number, over: Partial<FakeTask> = {}): FakeTask => ({
  id,
  priority: 0,
  queued: false,
  batchable: true,
  fn: { averageRunTime: 0.01 },
  ...over,
});
const thread = (inFlight: number, ready = true, exiting = false) => ({
  ready,
  exiting,
  inFlight: { size: inFlight },
});
const queueOf = (tasks: FakeTask[]) => {
  const queue = new TaskQueue<FakeTask>();
  for (const t of tasks) queue.push(t);
  return queue;
};

describe('TaskQueue', () => {
  it('is FIFO within a priority and serves higher priorities first', () => {
    const queue = queueOf([
      task(1, { priority: 0 }),
      task(2, { priority: 5 }),
      task(3, { priority: -1 }),
      task(4, { priority: 5 }),
      task(5, { priority: 2 }),
    ]);
    const order: number[] = [];
    for (let t = queue.shift(); t; t = queue.shift()) order.push(t.id);
    expect(order).toEqual([2, 4, 5, 1, 3]);
    expect(queue.priorityCount).toBe(0);
  });

  it('frees a priority as soon as it holds no task, however the tasks left', () => {
    const tasks = Array.from({ length: 16_000 }, (_, i) =>
      task(i, { priority: (i * 7919) % 16_000 }),
    );
    const queue = queueOf(tasks);
    expect(queue.priorityCount).toBe(16_000);
    for (let i = 0; i < tasks.length; i += 2) queue.remove(tasks[i] as FakeTask);
    expect(queue.size).toBe(8000);
    expect(queue.priorityCount).toBe(8000);
    let last = Number.POSITIVE_INFINITY;
    for (let t = queue.shift(); t; t = queue.shift()) {
      expect(t.priority).toBeLessThanOrEqual(last);
      expect(t.id % 2).toBe(1);
      last = t.priority;
    }
    expect(queue.priorityCount).toBe(0);
  });

  it('removal marks, and removed tasks are skipped and never come back', () => {
    const tasks = [task(1), task(2), task(3)];
    const queue = queueOf(tasks);
    expect(queue.remove(tasks[0] as FakeTask)).toBe(true);
    expect(queue.remove(tasks[0] as FakeTask)).toBe(false);
    expect(queue.peek()?.id).toBe(2);
    expect(queue.drain().map((t) => t.id)).toEqual([2, 3]);
    expect(queue.size).toBe(0);
  });

  it('unshift puts a task back in front of its priority', () => {
    const queue = queueOf([task(1), task(2)]);
    queue.unshift(task(0));
    expect(queue.drain().map((t) => t.id)).toEqual([0, 1, 2]);
  });
});

describe('planDispatch', () => {
  it('fills free slots first, then batches short tasks ahead, keeping a share for starting threads', () => {
    const a = thread(0);
    const b = thread(0);
    const queue = queueOf(Array.from({ length: 100 }, (_, i) => task(i)));
    const plan = planDispatch(queue, [a, b], 1, 2);
    // 100 queued, 2 ready + 2 starting: a share of 25 each (batch-ahead allows 200 for 0.01 ms tasks).
    expect(plan.get(a)?.length).toBe(1 + 25);
    expect(plan.get(b)?.length).toBe(1 + 25);
    expect(queue.size).toBe(100 - 52);
  });

  it('never sends ahead a task that is not batchable or whose function was never seen', () => {
    const a = thread(0);
    const queue = queueOf([task(1), task(2, { batchable: false }), task(3)]);
    expect(
      planDispatch(queue, [a], 1, 0)
        .get(a)
        ?.map((t) => t.id),
    ).toEqual([1]);
    const unseen = queueOf([
      task(1, { fn: { averageRunTime: -1 } }),
      task(2, { fn: { averageRunTime: -1 } }),
    ]);
    expect(
      planDispatch(unseen, [a], 1, 0)
        .get(a)
        ?.map((t) => t.id),
    ).toEqual([1]);
  });

  it('skips threads that are starting or stopping', () => {
    const queue = queueOf([task(1)]);
    expect(planDispatch(queue, [thread(0, false), thread(0, true, true)], 1, 0).size).toBe(0);
    expect(queue.size).toBe(1);
  });

  it('gives a thread no more than its remaining allowance (maxTasksPerThread), in slots and ahead', () => {
    const a = { ...thread(0), remaining: 3 };
    const b = { ...thread(1), remaining: 0 };
    const c = thread(0);
    const queue = queueOf(Array.from({ length: 40 }, (_, i) => task(i)));
    const plan = planDispatch(queue, [a, b, c], 2, 0);
    expect(plan.get(a)?.length).toBe(3);
    expect(plan.get(b)).toBeUndefined();
    expect(plan.get(c)?.length).toBeGreaterThan(3);
  });

  it('counts tasks sent ahead to a thread being recycled as waiting', () => {
    const retiring = { ...thread(5, true, true), retiring: true };
    expect(waitingCount(0, [retiring, thread(0)], 2, 0, 1, 2)).toBe(4);
    expect(waitingCount(0, [thread(5, true, true), thread(0)], 2, 0, 1, 2)).toBe(0);
  });
});

describe('batchAhead, threadsToStart, waitingCount', () => {
  it('batches ahead by the function’s own average run time', () => {
    expect(batchAhead(-1)).toBe(0);
    expect(batchAhead(0)).toBe(MAX_BATCH_AHEAD);
    expect(batchAhead(1)).toBe(2);
    expect(batchAhead(5)).toBe(0);
  });

  it('starts threads for the backlog, never above maxThreads', () => {
    expect(threadsToStart(10, 0, 1, 1, 4)).toBe(3);
    expect(threadsToStart(10, 2, 1, 3, 4)).toBe(1);
    expect(threadsToStart(1, 1, 1, 1, 4)).toBe(0);
    expect(threadsToStart(100, 0, 1, 4, 4)).toBe(0);
  });

  it('counts tasks sent ahead as waiting, and queued tasks a free slot will take as not', () => {
    expect(waitingCount(0, [thread(5)], 1, 0, 1, 1)).toBe(4);
    expect(waitingCount(3, [thread(0)], 1, 0, 1, 2)).toBe(1);
  });
});

describe('blame', () => {
  const sentTask = (id: number, seq: number) => ({ id, seq });

  it('running tasks are the ones the thread published; the last sent-started never started; the rest lost their result', () => {
    const unfinished = [
      sentTask(11, 1),
      sentTask(12, 2),
      sentTask(13, 3),
      sentTask(14, 4),
      sentTask(15, 5),
    ];
    const result = blame(unfinished, 5, 3, [13]);
    expect(result.running.map((t) => t.id)).toEqual([13]);
    expect(result.neverStarted.map((t) => t.id)).toEqual([14, 15]);
    expect(result.lost.map((t) => t.id)).toEqual([11, 12]);
  });

  it('works across the Int32 wrap of the counters', () => {
    const max = 0x7fffffff;
    const wrapped = (max + 2) | 0; // two tasks after the counter wrapped
    const unfinished = [sentTask(1, max), sentTask(2, (max + 1) | 0), sentTask(3, wrapped)];
    const result = blame(unfinished, wrapped, max, [1]);
    expect(result.running.map((t) => t.id)).toEqual([1]);
    expect(result.neverStarted.map((t) => t.id)).toEqual([2, 3]);
    expect(result.lost).toEqual([]);
  });
});

describe('FunctionTable', () => {
  it('keeps one record per (file, name), with no joined keys, and forgets dropped ones', () => {
    const table = new FunctionTable();
    const a = table.get('/a.mjs', 'x\0y');
    expect(table.get('/a.mjs', 'x\0y')).toBe(a);
    expect(table.get('/a.mjs\0x', 'y')).not.toBe(a);
    expect(table.get('/a.mjs', '__proto__').name).toBe('__proto__');
    expect(table.size).toBe(3);
    table.delete(a);
    expect(a.live).toBe(false);
    expect(table.size).toBe(2);
    expect(table.get('/a.mjs', 'x\0y')).not.toBe(a);
  });
});
