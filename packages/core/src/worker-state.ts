import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * State shared by the worker runtime and the public `@offthread/core/worker` entry. It lives on
 * globalThis under a registered symbol: a task file may load the CJS build of this package while
 * the runtime is the ESM build (or the other way round), and both must see the same task.
 */
export interface TaskContext {
  /** The task's id within its pool. */
  readonly id: number;
  /** The export being run ('default' for the default export). */
  readonly name: string;
  /** Absolute path of the task module. */
  readonly filename: string;
  /**
   * Aborted when the caller aborts the task or it times out. Long tasks should check
   * `signal.aborted` or pass the signal on (fetch, timers/promises, streams) to stop early;
   * a task that ignores it is stopped by terminating its thread after a grace period.
   */
  readonly signal: AbortSignal;
  /**
   * Report progress to the caller's `onProgress` (the value is cloned, like a result). Costs
   * nothing and sends nothing when the caller gave no `onProgress`, or once the task settled.
   * @throws {DOMException} DataCloneError when the value cannot be cloned.
   */
  progress(value: unknown): void;
  /**
   * The values the pool's `carry` option sent with this task, by key (copies of the caller's
   * AsyncLocalStorage stores when the task was submitted). Empty when nothing was carried.
   */
  readonly carried: Readonly<Record<string, unknown>>;
}

export interface WorkerGlobalState {
  /** The task whose synchronous part is running right now (sync functions). */
  current: TaskContext | undefined;
  /** Resolves the task of the current async context (async functions). */
  getAsyncTask: () => TaskContext | undefined;
  /** The pool's `workerData` option. */
  workerData: unknown;
  poolName: string;
  /** Hooks registered with onThreadClose(), run when the pool stops this thread gracefully. */
  closeHooks: Array<() => unknown>;
}

const key = Symbol.for('offthread.worker.state');

export function getWorkerState(): WorkerGlobalState | undefined {
  return (globalThis as Record<symbol, WorkerGlobalState | undefined>)[key];
}

export function setWorkerState(state: WorkerGlobalState): void {
  (globalThis as Record<symbol, WorkerGlobalState>)[key] = state;
}

const inlineKey = Symbol.for('offthread.inline.task');

/**
 * Tasks an adapter runs on the main thread as if in a pool thread (`runAsTask()` in
 * `@offthread/core/adapter`, e.g. Nest's inline test mode), so `currentTask()` works in them.
 * Created on first use and kept on globalThis, like the worker state, for both builds.
 */
export function inlineTaskStorage(): AsyncLocalStorage<TaskContext> {
  const slot = globalThis as Record<symbol, AsyncLocalStorage<TaskContext> | undefined>;
  let storage = slot[inlineKey];
  if (storage === undefined) {
    storage = new AsyncLocalStorage<TaskContext>();
    slot[inlineKey] = storage;
  }
  return storage;
}

/** The task `runAsTask()` runs in this async context, if any. Never creates the storage. */
export function currentInlineTask(): TaskContext | undefined {
  return (globalThis as Record<symbol, AsyncLocalStorage<TaskContext> | undefined>)[
    inlineKey
  ]?.getStore();
}
