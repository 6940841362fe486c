import { inlineTaskStorage, type TaskContext } from '../worker-state.js';

/** What a body run by {@link runAsTask} sees through `currentTask()`. */
export interface InlineTaskOptions {
  /** The export name `currentTask().name` reports. Defaults to `'default'`. */
  name?: string;
  /** The module path `currentTask().filename` reports. Defaults to `''`. */
  filename?: string;
  /** `currentTask().signal`: abort it on a timeout or a caller's abort. Defaults to a signal that never aborts. */
  signal?: AbortSignal;
  /** Receives `currentTask().progress(value)` (a structured clone, as across threads). */
  onProgress?: (value: unknown) => void;
  /** `currentTask().carried`. */
  carried?: Readonly<Record<string, unknown>>;
}

const neverAborted = new AbortController().signal;
let nextInlineId = 1;

/**
 * Run `body` on this thread as if it were a pool task: inside it (and everything it awaits),
 * `currentTask()` from `@offthread/core/worker` returns a task with `options.signal`, so code
 * written for a thread (`const { signal } = currentTask()`) also runs inline, for example in an
 * adapter's test mode. Costs nothing until first used; `isOffThreadWorker()` stays false.
 *
 * @returns what `body` returns (a promise stays a promise).
 */
export function runAsTask<T>(body: () => T, options: InlineTaskOptions = {}): T {
  if (typeof body !== 'function') throw new TypeError('runAsTask(body) expects a function');
  const onProgress = options.onProgress;
  const task: TaskContext = {
    id: nextInlineId++,
    name: options.name ?? 'default',
    filename: options.filename ?? '',
    signal: options.signal ?? neverAborted,
    progress(value: unknown): void {
      // Cloned as between threads, so a body that reports a value it then mutates behaves alike.
      if (onProgress !== undefined) onProgress(structuredClone(value));
    },
    carried: Object.freeze({ ...options.carried }),
  };
  return inlineTaskStorage().run(task, body);
}
