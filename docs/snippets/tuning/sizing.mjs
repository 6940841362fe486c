import { Pool } from '@offthread/core';

// A CPU-bound API on a machine it has to itself.
export const pool = new Pool({
  filename: new URL('../core/tasks.mjs', import.meta.url),
  // one per core you give to this work; leave the main thread a core under load
  maxThreads: 4,
  minThreads: 4, // keep them warm: starting a thread costs tens of ms
  maxQueue: 64, // a bounded wait: beyond it, answer 503 quickly rather than time out slowly
  taskTimeout: 5_000, // no task holds a thread for ever
  // one bad input cannot take the process down
  resourceLimits: { maxOldGenerationSizeMb: 256 },
});

// Async tasks that mostly wait (a task that calls a remote service, then computes a
// little) can
// share a thread; CPU-bound ones cannot.
export const ioPool = new Pool({
  filename: new URL('../core/tasks.mjs', import.meta.url),
  maxThreads: 2,
  concurrentTasksPerWorker: 8,
});
