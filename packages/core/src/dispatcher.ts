/**
 * Where queued tasks go, and what a dead thread's tasks were doing: plain functions over plain
 * data, so that each rule can be unit-tested without threads (test/dispatcher.test.ts). The
 * pool calls them and acts on their answers.
 */
import type { TaskQueue } from './queue/task-queue.js';

/** Batch ahead only while tasks are this short on average (ms); longer ones need fair placement. */
export const BATCH_BUDGET_MS = 2;
export const MAX_BATCH_AHEAD = 256;

/** What the dispatcher reads of a queued task. */
export interface DispatchTask {
  readonly priority: number;
  queued: boolean;
  readonly batchable: boolean;
  readonly fn: { readonly averageRunTime: number };
}

/** What the dispatcher reads of a thread. */
export interface DispatchThread {
  readonly ready: boolean;
  readonly exiting: boolean;
  readonly inFlight: { readonly size: number };
  /**
   * Tasks it may still be given before it is recycled (pool option maxTasksPerThread);
   * absent or `Infinity` when there is no such limit.
   */
  readonly remaining?: number;
  /** Being recycled: it takes no more tasks but still runs those sent ahead to it. */
  readonly retiring?: boolean;
}

/**
 * How many tasks of a function whose calls take `averageRunTime` ms may wait in a thread beyond
 * its free slots: enough to keep it busy for BATCH_BUDGET_MS, none for a function never seen.
 */
export function batchAhead(averageRunTime: number): number {
  if (averageRunTime < 0) return 0;
  return Math.min(MAX_BATCH_AHEAD, Math.floor(BATCH_BUDGET_MS / Math.max(averageRunTime, 0.001)));
}

/**
 * Take tasks off `queue` for the threads: first into free slots, then (short tasks only) ahead
 * in batches, spreading the backlog evenly and keeping a share for the `starting` threads,
 * because tasks sent ahead to one thread cannot be taken back by another that becomes free.
 */
export function planDispatch<T extends DispatchTask, H extends DispatchThread>(
  queue: TaskQueue<T>,
  threads: Iterable<H>,
  concurrency: number,
  starting: number,
): Map<H, T[]> {
  const plan = new Map<H, T[]>();
  if (queue.size === 0) return plan;
  const ready: H[] = [];
  for (const thread of threads) if (thread.ready && !thread.exiting) ready.push(thread);
  const load = new Map<H, number>();
  // How many tasks each thread may hold in this plan: its `remaining` allowance (recycling).
  const caps = new Map<H, number>();
  for (const thread of ready) {
    let count = thread.inFlight.size;
    const cap = count + (thread.remaining ?? Number.POSITIVE_INFINITY);
    while (count < concurrency && count < cap && queue.size > 0) {
      add(plan, thread, queue.shift() as T);
      count++;
    }
    load.set(thread, count);
    caps.set(thread, cap);
  }
  if (queue.size > 0 && ready.length > 0) {
    const share = Math.ceil(queue.size / (ready.length + starting));
    for (const thread of ready) {
      let count = load.get(thread) ?? thread.inFlight.size;
      const cap = caps.get(thread) ?? Number.POSITIVE_INFINITY;
      for (let head = queue.peek(); head?.batchable; head = queue.peek()) {
        if (count >= concurrency + Math.min(share, batchAhead(head.fn.averageRunTime))) break;
        if (count >= cap) break;
        add(plan, thread, queue.shift() as T);
        count++;
      }
    }
  }
  return plan;
}

function add<H, T>(plan: Map<H, T[]>, thread: H, task: T): void {
  const batch = plan.get(thread);
  if (batch === undefined) plan.set(thread, [task]);
  else batch.push(task);
}

/** Threads to start for what is still queued after dispatching. */
export function threadsToStart(
  queued: number,
  starting: number,
  concurrency: number,
  alive: number,
  maxThreads: number,
): number {
  const backlog = queued - starting * concurrency;
  if (backlog <= 0 || alive >= maxThreads) return 0;
  return Math.min(maxThreads - alive, Math.ceil(backlog / concurrency));
}

/**
 * Tasks accepted and waiting to start. Tasks in the pool's queue that a free slot (of a ready
 * thread, of one that is starting, or of one the pool may still start) will take at the next
 * dispatch are not waiting; tasks sent ahead beyond a thread's slots are.
 */
export function waitingCount(
  queued: number,
  threads: Iterable<DispatchThread>,
  threadCount: number,
  starting: number,
  concurrency: number,
  maxThreads: number,
): number {
  let ahead = 0;
  let free = starting * concurrency;
  for (const thread of threads) {
    const n = thread.inFlight.size;
    if (thread.exiting) {
      // A recycled thread still runs what was sent ahead to it: those tasks still wait.
      if (thread.retiring === true && n > concurrency) ahead += n - concurrency;
      continue;
    }
    if (n > concurrency) ahead += n - concurrency;
    else if (thread.ready) free += concurrency - n;
  }
  if (threadCount < maxThreads) free += (maxThreads - threadCount) * concurrency;
  return Math.max(0, queued - free) + ahead;
}

/** What a dead thread's unfinished tasks were doing when it died. */
export interface Blame<T> {
  /** Published as running: they fail with the cause of the death, never run again. */
  running: T[];
  /** Sent but never taken off the thread's waiting list: safe to run elsewhere, once. */
  neverStarted: T[];
  /**
   * Started and no longer running, but their result never arrived: it was buffered in the
   * thread when a hard kill (terminate, out of memory) took it. They fail; never run again.
   */
  lost: T[];
}

/**
 * Sort a dead thread's unfinished tasks. `sent` and `started` count tasks posted to and started
 * by the thread (Int32, wrapping, compared mod 2^32); the thread starts tasks in the order they
 * were sent, so the last `sent - started` ones never started. `runningIds` is what the thread
 * published (see protocol.ts Slab). Nothing is inferred from batch positions.
 */
export function blame<T extends { readonly id: number; readonly seq: number }>(
  unfinished: Iterable<T>,
  sent: number,
  started: number,
  runningIds: readonly number[],
): Blame<T> {
  const notStarted = (sent - started) | 0;
  const result: Blame<T> = { running: [], neverStarted: [], lost: [] };
  for (const task of unfinished) {
    if (runningIds.includes(task.id)) result.running.push(task);
    else if (((sent - task.seq) | 0) < notStarted && ((sent - task.seq) | 0) >= 0)
      result.neverStarted.push(task);
    else result.lost.push(task);
  }
  return result;
}
