/**
 * The API for code that runs inside a pool thread: `import { currentTask } from '@offthread/core/worker'`.
 * @module
 */
import { currentInlineTask, getWorkerState, type TaskContext } from './worker-state.js';

export type { CarryOptions } from './context.js';
export { restoreCarry } from './context-thread.js';
export { OffThreadError, OffThreadErrorCode } from './errors.js';
export { importTaskModule } from './module-loader.js';
export { transfer } from './transfer.js';
export type { TaskContext } from './worker-state.js';

/**
 * The task running in this thread right now, with its AbortSignal. Call it from a task
 * function: anywhere in an `async function` task (it follows the async context), or in the
 * synchronous part of a plain function (before its first `await`/callback).
 *
 * On the main thread it also works inside a body an adapter runs inline with `runAsTask()`
 * (`@offthread/core/adapter`), as Nest's inline test mode does.
 *
 * @throws {Error} when called outside a running task (use {@link isOffThreadWorker} to test).
 *
 * @example
 * export default async function crunch(input) {
 *   const { signal } = currentTask();
 *   for (const chunk of input) { signal.throwIfAborted(); await step(chunk); }
 * }
 */
export function currentTask(): TaskContext {
  const state = getWorkerState();
  // Off a pool thread, an adapter may be running the body inline as a task (runAsTask()).
  const task = state ? (state.getAsyncTask() ?? state.current) : currentInlineTask();
  if (task) return task;
  throw new Error(
    state
      ? 'currentTask() was called outside a running task. Call it inside the task function; in a non-async function, call it before any callback or promise continuation.'
      : 'currentTask() was called outside an offthread pool thread. It only works in code run by pool.run().',
  );
}

/**
 * Run `hook` when the pool stops this thread gracefully (`pool.close()`, or the thread was idle
 * past `idleTimeout`): close connections, flush files, shut down a framework context. Hooks run
 * in reverse order of registration and may be async; together they get 2 s before the thread is
 * terminated. They do not run when a thread crashes, times out or is destroyed.
 * Outside a pool thread this does nothing.
 */
export function onThreadClose(hook: () => unknown): void {
  if (typeof hook !== 'function') throw new TypeError('onThreadClose(hook) expects a function');
  getWorkerState()?.closeHooks.push(hook);
}

/** True when this code runs inside an offthread pool thread. */
export function isOffThreadWorker(): boolean {
  return getWorkerState() !== undefined;
}

/** The pool's `workerData` option, cloned into this thread. `undefined` outside a pool thread. */
export function getWorkerData<T = unknown>(): T | undefined {
  return getWorkerState()?.workerData as T | undefined;
}
