/**
 * The script every pool thread runs. It receives batches of tasks, runs them (synchronous
 * functions back to back, async ones up to `concurrency` at a time), and sends results back in
 * batches. Nothing here is public; task code talks to it through `@offthread/core/worker`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import {
  type MessagePort,
  receiveMessageOnPort,
  type Transferable,
  workerData,
} from 'node:worker_threads';
import { serializeError } from './error-serialization.js';
import { OffThreadError, OffThreadErrorCode } from './errors.js';
import { importTaskModule } from './module-loader.js';
import { kRuntimeData, Op, RUN_STRIDE, type RuntimeData, Status } from './protocol.js';
import { isTransferred } from './transfer.js';
import { setWorkerState, type TaskContext } from './worker-state.js';

const runtime = (workerData as Record<string, RuntimeData>)[kRuntimeData];
const port: MessagePort = runtime.port;
const concurrency = runtime.concurrency;

/** A task module's function, resolved once per (file, export) and reused. */
interface TaskFunction {
  filename: string;
  name: string;
  fn?: (...args: unknown[]) => unknown;
  isAsync: boolean;
  loading?: Promise<void>;
  loadError?: unknown;
}

class RunningTask implements TaskContext {
  controller: AbortController | undefined;
  abortReason: unknown;
  aborted = false;
  constructor(
    readonly id: number,
    readonly entry: TaskFunction,
    readonly spread: boolean,
    readonly arg: unknown,
  ) {}
  get name() {
    return this.entry.name;
  }
  get filename() {
    return this.entry.filename;
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
  abort(reason: unknown) {
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
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
/** Tasks received while `concurrency` async tasks were already running. */
const waiting: RunningTask[] = [];
let waitingHead = 0;
/** Async tasks in progress, by id, so an abort message can reach them. */
const active = new Map<number, RunningTask>();
let running = 0;

let results: unknown[] = [Op.Results];
let resultTransfers: Transferable[] = [];
let lastFlush = performance.now();
let flushScheduled = false;
/** Results of a batch go back together, unless the batch runs long: then earlier results leave early. */
const FLUSH_AFTER_MS = 1;

port.on('message', onMessage);
port.postMessage([Op.Ready]);

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
      for (let i = 1; i < message.length; i += RUN_STRIDE) {
        const entry = functions.get(message[i + 1] as number)!;
        const task = new RunningTask(
          message[i] as number,
          entry,
          message[i + 2] === 1,
          message[i + 3],
        );
        if (running < concurrency) start(task);
        else waiting.push(task);
      }
      break;
    case Op.Register:
      functions.set(message[1] as number, {
        filename: message[2] as string,
        name: message[3] as string,
        isAsync: false,
      });
      break;
    case Op.Abort:
      abort(message[1] as number);
      break;
    case Op.Close:
      void close();
      break;
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
  port.close();
  process.exit(0);
}

function abort(id: number): void {
  const task = active.get(id);
  const reason = new OffThreadError(
    OffThreadErrorCode.ABORTED,
    'The task was aborted by its caller',
  );
  if (task) {
    task.abort(reason);
    return;
  }
  for (let i = waitingHead; i < waiting.length; i++) {
    if (waiting[i].id === id) {
      waiting.splice(i, 1);
      pushError(id, reason, 0);
      return;
    }
  }
}

function start(task: RunningTask): void {
  const entry = task.entry;
  if (entry.fn === undefined) {
    running++;
    active.set(task.id, task);
    load(entry).then(
      () => {
        running--;
        active.delete(task.id);
        if (task.aborted) pushError(task.id, task.abortReason, 0);
        else start(task);
        afterAsync();
      },
      (error) => {
        running--;
        active.delete(task.id);
        pushError(task.id, error, 0);
        afterAsync();
      },
    );
    return;
  }
  const startedAt = performance.now();
  let value: unknown;
  try {
    if (entry.isAsync) {
      value = asyncContext.run(task, call, task);
    } else {
      state.current = task;
      value = call(task);
    }
  } catch (error) {
    state.current = undefined;
    pushError(task.id, error, performance.now() - startedAt);
    return;
  }
  state.current = undefined;
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Promise<unknown>).then === 'function'
  ) {
    running++;
    active.set(task.id, task);
    (value as Promise<unknown>).then(
      (result) => settleAsync(task, Status.Ok, result, startedAt),
      (error) => settleAsync(task, Status.Error, error, startedAt),
    );
  } else {
    pushResult(task.id, value, performance.now() - startedAt);
  }
}

function call(task: RunningTask): unknown {
  const fn = task.entry.fn!;
  return task.spread ? fn(...(task.arg as unknown[])) : fn(task.arg);
}

function settleAsync(task: RunningTask, status: number, value: unknown, startedAt: number): void {
  running--;
  active.delete(task.id);
  const runTime = performance.now() - startedAt;
  if (status === Status.Ok) pushResult(task.id, value, runTime);
  else pushError(task.id, value, runTime);
  afterAsync();
}

/** A slot freed up outside of a message handler: start waiting tasks, send results soon. */
function afterAsync(): void {
  while (running < concurrency && waitingHead < waiting.length) {
    const next = waiting[waitingHead];
    waiting[waitingHead++] = undefined as unknown as RunningTask;
    start(next);
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
  if (isTransferred(value)) {
    for (const item of value.transferList) resultTransfers.push(item as Transferable);
    value = value.value;
  }
  results.push(id, Status.Ok, value, runTime);
  maybeFlushEarly();
}

const runtimeFile = import.meta.url.replace(/^file:\/\//, '');

function pushError(id: number, error: unknown, runTime: number): void {
  const data = serializeError(error);
  // The runtime's own frames (call, start, ...) say nothing about the user's code.
  if (data.stack)
    data.stack = data.stack
      .split('\n')
      .filter((line) => !line.includes(runtimeFile))
      .join('\n');
  results.push(id, Status.Error, data, runTime);
  maybeFlushEarly();
}

function maybeFlushEarly(): void {
  if (performance.now() - lastFlush >= FLUSH_AFTER_MS) flush();
}

function flush(): void {
  lastFlush = performance.now();
  if (results.length === 1) return;
  const batch = results;
  const transfers = resultTransfers;
  results = [Op.Results];
  resultTransfers = [];
  try {
    port.postMessage(batch, transfers);
  } catch {
    // One result in the batch cannot be cloned: send them one by one so only that task fails.
    for (let i = 1; i < batch.length; i += 4) {
      const one = [Op.Results, batch[i], batch[i + 1], batch[i + 2], batch[i + 3]];
      try {
        port.postMessage(
          one,
          transfers.filter((t) => containsTransferable(batch[i + 2], t)),
        );
      } catch (cloneError) {
        const error = new OffThreadError(
          OffThreadErrorCode.UNCLONEABLE,
          `The task's result could not be sent back to the main thread: ${(cloneError as Error).message}. Return plain data (objects, arrays, strings, numbers, typed arrays, Map, Set, Date), not functions, class instances with methods, sockets or streams.`,
          { cause: cloneError },
        );
        port.postMessage([Op.Results, batch[i], Status.Error, serializeError(error), batch[i + 3]]);
      }
    }
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
    // pool.preload() asks for a check of the export without calling it.
    const checkOnly = entry.name.startsWith(kCheck);
    const name = checkOnly ? entry.name.slice(kCheck.length) : entry.name;
    const fn = pickExport(ns, name);
    if (typeof fn !== 'function') {
      const names = exportedFunctionNames(ns);
      throw new OffThreadError(
        OffThreadErrorCode.TASK_NOT_FOUND,
        `${entry.filename} has no ${name === 'default' ? 'default export' : `export named '${name}'`} that is a function. Exported functions: ${names.length ? names.join(', ') : '(none)'}.`,
        { task: name, filename: entry.filename },
      );
    }
    if (checkOnly) {
      entry.fn = () => true;
      return;
    }
    entry.fn = fn as (...args: unknown[]) => unknown;
    entry.isAsync = fn.constructor?.name === 'AsyncFunction';
  });
  return entry.loading;
}

function pickExport(ns: Record<string, unknown>, name: string): unknown {
  const direct = ns[name];
  if (typeof direct === 'function') return direct;
  // A CommonJS module's exports object arrives as the namespace's default export; code
  // compiled from ESM to CJS keeps its default export one level further down.
  const cjs = ns.default as Record<string, unknown> | undefined;
  if (cjs !== null && (typeof cjs === 'object' || typeof cjs === 'function')) {
    if (name !== 'default' && typeof cjs[name] === 'function') return cjs[name];
    if (name === 'default' && typeof cjs.default === 'function') return cjs.default;
  }
  return direct;
}

function exportedFunctionNames(ns: Record<string, unknown>): string[] {
  const names = Object.keys(ns).filter((k) => typeof ns[k] === 'function');
  const cjs = ns.default as Record<string, unknown> | undefined;
  if (cjs && typeof cjs === 'object') {
    for (const k of Object.keys(cjs))
      if (typeof cjs[k] === 'function' && !names.includes(k)) names.push(k);
  }
  return names;
}

const kCheck = '\u0001check:';
