/**
 * The wire format between the pool and its threads. Messages are flat arrays (cheaper to
 * clone than objects with keys) whose first element says what they are. Runs and results are
 * batched: one message can carry many tasks, which is what makes tiny tasks cheap.
 */
import type { MessagePort } from 'node:worker_threads';

/** main -> worker: [Op.Run, ...taskTuples] where each task is RUN_STRIDE slots. */
export const Op = {
  /** main -> worker: [Run, id, fnId, spreadArgs(0|1), arg, id, fnId, ...] */
  Run: 0,
  /** main -> worker: [Register, fnId, filename, exportName] — sent once per thread per function. */
  Register: 1,
  /** main -> worker: [Abort, id] */
  Abort: 2,
  /** worker -> main: [Ready] once the thread can take tasks. */
  Ready: 3,
  /** worker -> main: [Results, id, status, value, runTimeMs, id, ...] */
  Results: 4,
  /** main -> worker: [Close] — run the onThreadClose hooks, then exit. */
  Close: 5,
} as const;

/** How long a thread may take over its onThreadClose hooks before it is terminated (ms). */
export const CLOSE_GRACE_MS = 2000;

export const RUN_STRIDE = 4;
export const RESULT_STRIDE = 4;

export const Status = { Ok: 0, Error: 1 } as const;

/** What the runtime receives as `workerData`; the user's own workerData is under `user`. */
export interface RuntimeData {
  port: MessagePort;
  concurrency: number;
  poolName: string;
  user: unknown;
}

export const kRuntimeData = '__offthread';
