/**
 * What a pool and its child processes (`runtime: 'process'`) say to each other besides the
 * messages of protocol.ts, which cross unchanged. These ops are negative so they can never
 * collide with protocol.ts's Op values; only process-thread.ts and process-entry.ts read them.
 */
export const ProcessOp = {
  /** child -> pool: [Hello]: the IPC channel is listening; send Init. */
  Hello: -1,
  /** pool -> child: [Init, ProcessInit]: what the runtime needs, then it boots. */
  Init: -2,
  /** child -> pool: [Crash, SerializedError]: an uncaught error is about to end the process. */
  Crash: -3,
} as const;

/** What a child process is told at start: RuntimeData (protocol.ts) minus port and slab. */
export interface ProcessInit {
  concurrency: number;
  poolName: string;
  user: unknown;
  heapLimitBytes: number;
}

/**
 * Where process-entry.ts puts the RuntimeData for worker-runtime.ts, which reads workerData in
 * a thread. A registered symbol, so both sides agree without importing each other.
 */
export const kProcessRuntime: unique symbol = Symbol.for('offthread.process.runtime') as never;
