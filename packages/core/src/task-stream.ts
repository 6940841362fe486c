/**
 * The caller's end of `pool.stream()`: an async iterator over the values a task's async
 * iterable yields in its thread. Values arrive as Op.Yield messages while the thread holds
 * credit; this side gives credit back as the consumer takes values, so the thread never runs
 * more than `window` values ahead of the consumer (see protocol.ts RunFlag.Stream).
 */
import { streamRunFlags } from './protocol.js';
import type { Task } from './task.js';

/**
 * What `pool.stream()` returns: an async iterator (and iterable) of the values the task's
 * async generator yields, in order. Use it with `for await`; breaking out of the loop (or
 * calling `return()`) stops the generator in its thread, so its `finally` blocks run.
 *
 * `next()` rejects with the error the task threw (rebuilt as with `run()`) after the values
 * yielded before it, or with an {@link OffThreadError} (ABORTED, TIMEOUT, WORKER_EXIT,
 * QUEUE_TIMEOUT, UNCLONEABLE, NOT_ITERABLE, POOL_CLOSED, ...). Once the generator returns, `next()`
 * resolves `{ done: true, value }` with its return value (which `for await` ignores).
 *
 * @typeParam T the values yielded
 * @typeParam R the generator's return value
 */
export interface PoolStream<T = any, R = any> extends AsyncIterator<T, R | undefined> {
  /** The next value, or `{ done: true, value: returnValue }` once the generator returned. */
  next(): Promise<IteratorResult<T, R | undefined>>;
  /**
   * Stop reading: the generator is stopped in its thread (its `finally` blocks run) and values
   * it had sent ahead are dropped. Resolves `{ done: true, value: undefined }` once the thread
   * has ended the task (its `finally` ran), or once the thread was terminated because it did
   * not stop within the pool's `abortGracePeriod`. Never rejects.
   */
  return(): Promise<IteratorResult<T, R | undefined>>;
  [Symbol.asyncIterator](): PoolStream<T, R>;
}

/** What a stream asks of its pool. */
export interface StreamControl {
  /** The consumer took `n` values: the thread may send `n` more. */
  grant(task: Task, n: number): void;
  /** The consumer stopped reading: end the task in its thread (the generator's finally runs). */
  close(task: Task): void;
}

type Reader = {
  resolve: (result: IteratorResult<unknown, unknown>) => void;
  reject: (error: unknown) => void;
};

const done: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });

/** @internal The pool's implementation of {@link PoolStream}. */
export class TaskStream<T, R> implements PoolStream<T, R> {
  /** The pool's task, once accepted (undefined when stream() failed before queuing it). */
  task: Task | undefined = undefined;
  /** Its Run flags: RunFlag.Stream with the window (see protocol.ts streamRunFlags). */
  readonly runFlags: number;
  /** Values received and not yet taken, from `head`. */
  private values: unknown[] = [];
  private head = 0;
  /** next() calls waiting for a value (only while `values` is empty). */
  private readers: Reader[] = [];
  /** How the task ended, once it did. */
  private outcome: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;
  /** The outcome was handed to the consumer, or the consumer stopped reading. */
  private finished = false;
  /** Values taken since the last credit sent: credit goes back in batches of `grantEvery`. */
  private taken = 0;
  private readonly grantEvery: number;
  /** Waiters of return() for the task to end. */
  private onSettled: (() => void) | undefined;

  constructor(
    readonly window: number,
    private readonly control: StreamControl,
  ) {
    this.runFlags = streamRunFlags(window);
    // Half the window at a time: half the messages, and the thread never waits on an empty pipe.
    this.grantEvery = Math.max(1, window >> 1);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T, R | undefined>> {
    if (this.head < this.values.length) {
      const value = this.values[this.head];
      this.values[this.head++] = undefined;
      if (this.head === this.values.length) {
        this.values.length = 0;
        this.head = 0;
      }
      this.took();
      return Promise.resolve({ done: false, value: value as T });
    }
    if (this.finished) return Promise.resolve(done);
    if (this.outcome !== undefined) return this.deliverOutcome();
    return new Promise((resolve, reject) => {
      this.readers.push({ resolve: resolve as Reader['resolve'], reject });
    });
  }

  return(): Promise<IteratorResult<T, R | undefined>> {
    if (this.finished) return Promise.resolve(done);
    this.finished = true;
    this.values = [];
    this.head = 0;
    for (const reader of this.readers.splice(0)) reader.resolve(done);
    const task = this.task;
    if (this.outcome !== undefined || task === undefined) return Promise.resolve(done);
    return new Promise((resolve) => {
      this.onSettled = () => resolve(done);
      this.control.close(task);
    });
  }

  /** @internal The thread sent a value. */
  push(value: unknown): void {
    if (this.finished) return;
    const reader = this.readers.shift();
    if (reader === undefined) {
      this.values.push(value);
      return;
    }
    this.took();
    reader.resolve({ done: false, value });
  }

  /** @internal The task returned: `value` is the generator's return value. */
  end(value: unknown): void {
    this.settle({ ok: true, value });
  }

  /** @internal The task failed; the error reaches the consumer after the values before it. */
  fail(error: unknown): void {
    this.settle({ ok: false, error });
  }

  private settle(outcome: NonNullable<TaskStream<T, R>['outcome']>): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    this.onSettled?.();
    this.onSettled = undefined;
    // Readers wait only while no value is buffered: the first one gets the outcome.
    const reader = this.readers.shift();
    if (reader !== undefined) void this.deliverOutcome().then(reader.resolve, reader.reject);
    for (const rest of this.readers.splice(0)) rest.resolve(done);
  }

  private deliverOutcome(): Promise<IteratorResult<T, R | undefined>> {
    this.finished = true;
    const outcome = this.outcome as NonNullable<TaskStream<T, R>['outcome']>;
    return outcome.ok
      ? Promise.resolve({ done: true, value: outcome.value as R })
      : Promise.reject(outcome.error);
  }

  private took(): void {
    if (++this.taken < this.grantEvery || this.outcome !== undefined) return;
    const task = this.task;
    if (task === undefined) return;
    this.control.grant(task, this.taken);
    this.taken = 0;
  }
}
