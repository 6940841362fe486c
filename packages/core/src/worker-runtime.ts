/**
 * The script every pool thread runs. It receives batches of tasks, runs them in the order they
 * were sent (synchronous functions back to back, async ones up to `concurrency` at a time), and
 * sends results back in batches. Nothing here is public; task code talks to it through
 * `@offthread/core/worker`.
 *
 * The fault contract rests on two habits here (see protocol.ts Slab and dispatcher.ts blame):
 * before a task starts, its id goes into a running slot and the started count is bumped in a
 * SharedArrayBuffer the pool reads when this thread dies; and buffered results are sent on the
 * way out (process.exit, uncaught error) and before a task that may get its thread terminated.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import {
  type MessagePort,
  receiveMessageOnPort,
  type Transferable,
  workerData,
} from 'node:worker_threads';
import type { ContextCarrier } from './context.js';
import { carriedValues, runInContext } from './context-thread.js';
import { serializeError } from './error-serialization.js';
import { abortedError, OffThreadError, OffThreadErrorCode } from './errors.js';
import { exportedFunctionNames, findExport } from './export-lookup.js';
import { importTaskModule } from './module-loader.js';
import { kProcessRuntime } from './process-protocol.js';
import {
  AbortCause,
  appendResult,
  decodeAbortCause,
  decodeCheck,
  decodeCredit,
  decodeRegister,
  decodeRun,
  decodeSubject,
  encodeHeapHigh,
  encodeProgress,
  encodeReady,
  encodeResults,
  encodeYield,
  kRuntimeData,
  Op,
  RunFlag,
  type RuntimeData,
  resultAt,
  resultCount,
  Slab,
  Status,
  singleResult,
  streamWindow,
} from './protocol.js';
import { isTransferred, type Transferred } from './transfer.js';
import { setWorkerState, type TaskContext } from './worker-state.js';

// A pool's child process (runtime: 'process') has no workerData: process-entry.ts puts the same data on globalThis.
const runtime = ((workerData as Record<string, RuntimeData> | null)?.[kRuntimeData] ??
  (globalThis as Record<symbol, RuntimeData>)[kProcessRuntime]) as RuntimeData;
const port: MessagePort = runtime.port;
const concurrency = runtime.concurrency;
const slab = new Int32Array(runtime.slab);
/** maxThreadHeapMb in bytes; 0 when the pool does not recycle on heap (nothing is measured). */
let heapLimitBytes = runtime.heapLimitBytes;

/** A task module's function, resolved once per (file, export) and reused. */
interface TaskFunction {
  filename: string;
  name: string;
  fn?: (...args: unknown[]) => unknown;
  isAsync: boolean;
  loading?: Promise<void>;
}

class RunningTask implements TaskContext {
  controller: AbortController | undefined;
  abortReason: unknown;
  aborted = false;
  /** Index of its running slot in the slab while it holds one. */
  slot = -1;
  // Stream tasks only (RunFlag.Stream); declared, not initialized, so other tasks pay nothing.
  /** Values it may still send before the consumer gives more credit (Op.Credit). */
  declare credits: number | undefined;
  /** Wakes a stream waiting for credit (or for its abort). */
  declare wake: (() => void) | undefined;
  /** Its consumer stopped reading (AbortCause.StreamClosed): it ends quietly, not as a failure. */
  declare closedByConsumer: boolean | undefined;
  /** Its outcome was recorded: progress reports after that are dropped. */
  done = false;
  /** What came with it under RunFlag.Context: the caller's trace context, carried values. */
  // Declared, not initialized: tasks without context (nearly all) pay nothing for it.
  declare context: ContextCarrier | undefined;
  constructor(
    readonly id: number,
    readonly entry: TaskFunction,
    readonly flags: number,
    readonly arg: unknown,
    /** pool.preload(): load and check the export, do not call it. */
    readonly check: boolean,
  ) {}
  get name() {
    return this.entry.name;
  }
  get filename() {
    return this.entry.filename;
  }
  get carried(): Readonly<Record<string, unknown>> {
    return carriedValues(this.context);
  }
  // Most tasks never look at their signal; an AbortController per task would cost more than a
  // tiny task itself, so it is made on first access.
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }
  progress(value: unknown): void {
    // Only the caller's onProgress makes a report worth a message (RunFlag.Progress).
    if (this.done || (this.flags & RunFlag.Progress) === 0) return;
    port.postMessage(encodeProgress(this.id, value));
  }
  abort(reason: unknown) {
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.wake?.();
  }
}

const asyncContext = new AsyncLocalStorage<RunningTask>();
const state = {
  current: undefined as TaskContext | undefined,
  getAsyncTask: () => asyncContext.getStore(),
  workerData: runtime.user,
  poolName: runtime.poolName,
  closeHooks: [] as Array<() => unknown>,
};
setWorkerState(state);

const functions = new Map<number, TaskFunction>();
/** Tasks received while `concurrency` tasks were already running, in the order sent. */
const waiting: (RunningTask | undefined)[] = [];
let waitingHead = 0;
/** Tasks not yet started, by id, so an abort message can mark them. */
const pending = new Map<number, RunningTask>();
/** Async tasks in progress, by id, so an abort message can reach them. */
const active = new Map<number, RunningTask>();
/** Tasks holding a running slot. */
let running = 0;
let startedCount = 0;
const freeSlots: number[] = [];
for (let i = concurrency - 1; i >= 0; i--) freeSlots.push(Slab.Running + i);

let results: unknown[] = encodeResults();
let resultTransfers: Transferable[] = [];
let lastFlush = performance.now();
let flushScheduled = false;
/** Results of a batch go back together, unless the batch runs long: then earlier results leave early. */
const FLUSH_AFTER_MS = 1;

// Results of tasks that finished must not die with the thread: on process.exit() or an uncaught
// error the thread still runs its 'exit' listeners, and a synchronous postMessage gets through.
process.on('exit', flush);
port.on('message', onMessage);
port.postMessage(encodeReady());

function onMessage(message: unknown[]): void {
  handle(message);
  // Messages that arrived while we were busy are taken now, synchronously, instead of one
  // event-loop turn each.
  for (
    let next = receiveMessageOnPort(port);
    next !== undefined;
    next = receiveMessageOnPort(port)
  ) {
    handle(next.message as unknown[]);
  }
  flush();
}

function handle(message: unknown[]): void {
  switch (message[0]) {
    case Op.Run:
      decodeRun(message, receive);
      break;
    case Op.Check: {
      const { id, fnId } = decodeCheck(message);
      enqueue(new RunningTask(id, entryOf(fnId), 0, undefined, true));
      break;
    }
    case Op.Register: {
      const { fnId, filename, name } = decodeRegister(message);
      functions.set(fnId, { filename, name, isAsync: false });
      break;
    }
    case Op.Forget:
      functions.delete(decodeSubject(message));
      break;
    case Op.Abort:
      abort(decodeSubject(message), decodeAbortCause(message));
      break;
    case Op.Credit: {
      const { id, n } = decodeCredit(message);
      const task = active.get(id) ?? pending.get(id);
      if (task === undefined) break;
      task.credits = (task.credits ?? streamWindow(task.flags)) + n;
      task.wake?.();
      break;
    }
    case Op.Close:
      void close();
      break;
  }
}

function receive(id: number, fnId: number, flags: number, arg: unknown): void {
  if (flags & RunFlag.Context) {
    // [arg, ...context] (see RunFlag.Context and context.ts ContextCarrier).
    const context = arg as ContextCarrier;
    const task = new RunningTask(id, entryOf(fnId), flags, context[0], false);
    task.context = context;
    enqueue(task);
    return;
  }
  enqueue(new RunningTask(id, entryOf(fnId), flags, arg, false));
}

function entryOf(fnId: number): TaskFunction {
  // The pool registers a function before its first task; a missing one is a bug, reported as such.
  return (
    functions.get(fnId) ?? {
      filename: '(unknown)',
      name: '(unknown)',
      isAsync: false,
      loading: Promise.reject(new Error(`offthread internal error: unknown function ${fnId}`)),
    }
  );
}

/** Tasks start strictly in the order they were sent: the pool's blame relies on it. */
function enqueue(task: RunningTask): void {
  if (running < concurrency && waitingHead === waiting.length) begin(task);
  else {
    pending.set(task.id, task);
    waiting.push(task);
  }
}

/** The pool is done with this thread: let the task code clean up, then end the thread. */
async function close(): Promise<void> {
  port.off('message', onMessage);
  for (const hook of state.closeHooks.splice(0).reverse()) {
    try {
      await hook();
    } catch (error) {
      process.emitWarning(`An onThreadClose hook failed: ${(error as Error)?.stack ?? error}`);
    }
  }
  flush();
  port.close();
  process.exit(0);
}

function abort(id: number, cause: number): void {
  const reason =
    cause === AbortCause.Timeout
      ? new OffThreadError(OffThreadErrorCode.TIMEOUT, 'The task ran longer than its timeout')
      : abortedError(
          new Error(
            cause === AbortCause.StreamClosed
              ? 'The consumer stopped reading the stream'
              : 'The task was aborted by its caller',
          ),
        );
  // A waiting task stays in its place (so tasks keep starting in order) and is skipped there.
  const task = active.get(id) ?? pending.get(id);
  if (task === undefined) return;
  if (cause === AbortCause.StreamClosed) task.closedByConsumer = true;
  task.abort(reason);
}

function bumpStarted(): void {
  startedCount = (startedCount + 1) | 0;
  Atomics.store(slab, Slab.Started, startedCount);
}

/** Take a task off the waiting list: publish it as running, then run it. */
function begin(task: RunningTask): void {
  pending.delete(task.id);
  if (task.aborted) {
    bumpStarted();
    pushError(task.id, task.abortReason, 0);
    return;
  }
  if (task.flags & RunFlag.FlushFirst) flush();
  const slot = freeSlots.pop() as number;
  task.slot = slot;
  // The slot first, then the count: a death in between still blames this task, never re-runs it.
  Atomics.store(slab, slot, task.id);
  bumpStarted();
  running++;
  const entry = task.entry;
  if (entry.fn === undefined) {
    active.set(task.id, task);
    load(entry).then(
      () => {
        active.delete(task.id);
        if (task.aborted) finish(task, Status.Error, task.abortReason, 0);
        else if (task.check) finish(task, Status.Ok, true, 0);
        else callTask(task);
        afterAsync();
      },
      (error) => {
        active.delete(task.id);
        finish(task, Status.Error, error, 0);
        afterAsync();
      },
    );
    return;
  }
  if (task.check) finish(task, Status.Ok, true, 0);
  else callTask(task);
}

function callTask(task: RunningTask): void {
  if (task.flags & RunFlag.Stream) {
    startStream(task);
    return;
  }
  const startedAt = performance.now();
  let value: unknown;
  try {
    if (task.entry.isAsync) {
      value = asyncContext.run(task, call, task);
    } else {
      state.current = task;
      value = call(task);
    }
  } catch (error) {
    state.current = undefined;
    finish(task, Status.Error, error, performance.now() - startedAt);
    return;
  }
  state.current = undefined;
  let then: unknown;
  try {
    // A returned Proxy may throw from any trap: that is the task's failure, not the thread's.
    then =
      value !== null && typeof value === 'object' ? (value as Promise<unknown>).then : undefined;
  } catch (error) {
    finish(task, Status.Error, error, performance.now() - startedAt);
    return;
  }
  if (typeof then === 'function') {
    active.set(task.id, task);
    (value as Promise<unknown>).then(
      (result) => settleAsync(task, Status.Ok, result, startedAt),
      (error) => settleAsync(task, Status.Error, error, startedAt),
    );
  } else {
    finish(task, Status.Ok, value, performance.now() - startedAt);
  }
}

function call(task: RunningTask): unknown {
  // The caller's trace context and carried values wrap the call (context-thread.ts).
  if (task.context !== undefined) return runInContext(task.context, callFunction, task);
  return callFunction(task);
}

function callFunction(task: RunningTask): unknown {
  const fn = task.entry.fn as (...args: unknown[]) => unknown;
  return task.flags & RunFlag.Spread ? fn(...(task.arg as unknown[])) : fn(task.arg);
}

// ---- streams (pool.stream()) ------------------------------------------------------------------

/**
 * Run a stream task: call the function, then pull its async iterable one value per credit and
 * send each value as Op.Yield. It holds its slot until the iterable ends. The whole pull loop
 * runs in the task's async context (currentTask() works in the generator's body, which runs in
 * next()) and in its carried trace context.
 */
function startStream(task: RunningTask): void {
  const startedAt = performance.now();
  active.set(task.id, task);
  const outcome = asyncContext.run(task, () =>
    task.context !== undefined ? runInContext(task.context, pullStream, task) : pullStream(task),
  ) as Promise<[number, unknown]>;
  void outcome.then(([status, value]) => settleAsync(task, status, value, startedAt));
}

/** Resolves [status, value]: the generator's return value, or why it failed or stopped. */
async function pullStream(task: RunningTask): Promise<[number, unknown]> {
  let iterator: AsyncIterator<unknown> | undefined;
  try {
    let value = callFunction(task);
    if (isThenable(value)) value = await value;
    iterator = asyncIteratorOf(value, task);
    task.credits ??= streamWindow(task.flags);
    for (;;) {
      while ((task.credits as number) <= 0 && !task.aborted) {
        await new Promise<void>((resolve) => {
          task.wake = resolve;
        });
        task.wake = undefined;
      }
      if (task.aborted) break;
      const step = await iterator.next();
      if (step.done) return [Status.Ok, step.value];
      // A value produced after the abort is dropped: the consumer no longer wants it.
      if (task.aborted) break;
      (task.credits as number)--;
      if (!postYield(task.id, step.value, task)) {
        // Uncloneable: end the generator (its finally runs), then fail with the reason.
        const error = yieldError;
        yieldError = undefined;
        await returnQuietly(iterator);
        return [Status.Error, error];
      }
    }
  } catch (error) {
    // The function or the generator threw: it is finished, nothing to return() from.
    return task.closedByConsumer ? [Status.Ok, undefined] : [Status.Error, error];
  }
  // Aborted (signal, timeout, or the consumer stopped reading): run the generator's finally.
  await returnQuietly(iterator);
  return task.closedByConsumer ? [Status.Ok, undefined] : [Status.Error, task.abortReason];
}

/** The error of the last failed {@link postYield}. */
let yieldError: unknown;

/** Send one yielded value (moved if wrapped in transfer()); false when it cannot be cloned. */
function postYield(id: number, value: unknown, task: RunningTask): boolean {
  let transfers: readonly Transferable[] | undefined;
  if (isTransferredSafe(value)) {
    transfers = value.transferList as Transferable[];
    value = value.value;
  }
  try {
    port.postMessage(encodeYield(id, value), transfers as Transferable[] | undefined);
    return true;
  } catch (cloneError) {
    yieldError = new OffThreadError(
      OffThreadErrorCode.UNCLONEABLE,
      `A value the stream task '${task.name}' yielded could not be sent to the main thread: ${String((cloneError as Error)?.message).replace(/\.$/, '')}. Yield plain data (objects, arrays, strings, numbers, typed arrays, Map, Set, Date), not functions, class instances with methods, sockets or streams.`,
      { cause: cloneError, task: task.name, filename: task.filename },
    );
    return false;
  }
}

async function returnQuietly(iterator: AsyncIterator<unknown> | undefined): Promise<void> {
  try {
    await iterator?.return?.();
  } catch {
    // The generator's finally threw while being stopped: nobody waits for its outcome now.
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** The iterator of what a stream task returned; ERR_OFFTHREAD_NOT_ITERABLE if it is none. */
function asyncIteratorOf(value: unknown, task: RunningTask): AsyncIterator<unknown> {
  const method =
    value !== null && (typeof value === 'object' || typeof value === 'function')
      ? (value as Record<symbol, unknown>)[Symbol.asyncIterator]
      : undefined;
  if (typeof method !== 'function') {
    throw new OffThreadError(
      OffThreadErrorCode.NOT_ITERABLE,
      `pool.stream() called '${task.name}' of ${task.filename}, which returned ${describeValue(value)}, not an async iterable. Write it as an async generator (export async function* ${task.name === 'default' ? 'task' : task.name}() { yield ... }) or return a Readable; to get one value back, use pool.run().`,
      { task: task.name, filename: task.filename },
    );
  }
  const iterator = method.call(value) as AsyncIterator<unknown>;
  if (iterator === null || typeof iterator !== 'object' || typeof iterator.next !== 'function')
    throw new TypeError(`The async iterator of what '${task.name}' returned has no next() method`);
  return iterator;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

/** Buffer the outcome, then free the slot: a death in between blames the task (never re-runs it). */
function finish(task: RunningTask, status: number, value: unknown, runTime: number): void {
  task.done = true;
  if (status === Status.Ok) pushResult(task.id, value, runTime);
  else pushError(task.id, value, runTime);
  Atomics.store(slab, task.slot, 0);
  freeSlots.push(task.slot);
  task.slot = -1;
  running--;
}

function settleAsync(task: RunningTask, status: number, value: unknown, startedAt: number): void {
  active.delete(task.id);
  finish(task, status, value, performance.now() - startedAt);
  afterAsync();
}

/** A slot freed up outside of a message handler: start waiting tasks, send results soon. */
function afterAsync(): void {
  while (running < concurrency && waitingHead < waiting.length) {
    const next = waiting[waitingHead] as RunningTask;
    waiting[waitingHead++] = undefined;
    begin(next);
  }
  if (waitingHead === waiting.length) {
    waiting.length = 0;
    waitingHead = 0;
  }
  if (!flushScheduled) {
    flushScheduled = true;
    // Several async tasks often settle in the same tick; one message carries them all.
    setImmediate(flushSoon);
  }
}

function flushSoon(): void {
  flushScheduled = false;
  flush();
}

function pushResult(id: number, value: unknown, runTime: number): void {
  if (isTransferredSafe(value)) {
    for (const item of value.transferList) resultTransfers.push(item as Transferable);
    value = value.value;
  }
  appendResult(results, id, Status.Ok, value, runTime);
  maybeFlushEarly();
}

/** isTransferred() reads a property: on a hostile Proxy that throws, it is simply not a transfer. */
function isTransferredSafe(value: unknown): value is Transferred<unknown> {
  try {
    return isTransferred(value);
  } catch {
    return false;
  }
}

const runtimeFile = import.meta.url.replace(/^file:\/\//, '');

function pushError(id: number, error: unknown, runTime: number): void {
  // serializeError never throws, whatever the task threw (error-serialization.ts).
  const data = serializeError(error);
  // The runtime's own frames (call, begin, ...) say nothing about the user's code.
  if ('stack' in data && typeof data.stack === 'string') {
    data.stack = data.stack
      .split('\n')
      .filter((line) => !line.includes(runtimeFile))
      .join('\n');
  }
  appendResult(results, id, Status.Error, data, runTime);
  maybeFlushEarly();
}

function maybeFlushEarly(): void {
  if (performance.now() - lastFlush >= FLUSH_AFTER_MS) flush();
}

function flush(): void {
  lastFlush = performance.now();
  if (resultCount(results) === 0) return;
  const batch = results;
  const transfers = resultTransfers;
  results = encodeResults();
  resultTransfers = [];
  if (heapLimitBytes > 0) checkHeap();
  try {
    port.postMessage(batch, transfers);
  } catch {
    // One result in the batch cannot be cloned: send them one by one so only that task fails.
    for (let i = 0; i < resultCount(batch); i++) {
      const { id, value, runTime } = resultAt(batch, i);
      try {
        port.postMessage(
          singleResult(batch, i),
          transfers.filter((t) => containsTransferable(value, t)),
        );
      } catch (cloneError) {
        const error = new OffThreadError(
          OffThreadErrorCode.UNCLONEABLE,
          isAsyncIterable(value)
            ? `The task returned an async iterable (an async generator?), which pool.run() cannot send back. Call it with pool.stream() to iterate what it yields.`
            : `The task's result could not be sent back to the main thread: ${(cloneError as Error).message}. Return plain data (objects, arrays, strings, numbers, typed arrays, Map, Set, Date), not functions, class instances with methods, sockets or streams.`,
          { cause: cloneError },
        );
        const one = encodeResults();
        appendResult(one, id, Status.Error, serializeError(error), runTime);
        try {
          port.postMessage(one);
        } catch {
          // The port is closed: the thread is on its way out and the pool will account for it.
        }
      }
    }
  }
}

/**
 * Tell the pool once that the heap passed maxThreadHeapMb, so it recycles this thread. Measured
 * when results leave (tasks just settled), only when the option is set.
 */
function checkHeap(): void {
  const used = getHeapStatistics().used_heap_size;
  if (used < heapLimitBytes) return;
  heapLimitBytes = 0;
  try {
    port.postMessage(encodeHeapHigh(used));
  } catch {
    // The port is closed: the thread is on its way out anyway.
  }
}

/** Only asked when a result failed to clone: never on the way of a successful task. */
function isAsyncIterable(value: unknown): boolean {
  try {
    return (
      value !== null &&
      typeof value === 'object' &&
      typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function'
    );
  } catch {
    return false;
  }
}

function containsTransferable(value: unknown, item: unknown): boolean {
  if (value === item) return true;
  if (ArrayBuffer.isView(value)) return value.buffer === item;
  return false;
}

// ---- loading task modules -------------------------------------------------------------------

function load(entry: TaskFunction): Promise<void> {
  entry.loading ??= importTaskModule(entry.filename).then((ns) => {
    // The name is matched literally against the module's own exports (export-lookup.ts).
    const fn = findExport(ns, entry.name);
    if (fn === undefined) {
      const names = exportedFunctionNames(ns);
      throw new OffThreadError(
        OffThreadErrorCode.TASK_NOT_FOUND,
        `${entry.filename} has no ${entry.name === 'default' ? 'default export' : `export named '${entry.name}'`} that is a function. Exported functions: ${names.length ? names.join(', ') : '(none)'}.`,
        { task: entry.name, filename: entry.filename },
      );
    }
    entry.fn = fn;
    entry.isAsync = fn.constructor?.name === 'AsyncFunction';
  });
  return entry.loading;
}
