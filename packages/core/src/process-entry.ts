/**
 * The script every child process of a `runtime: 'process'` pool runs. It reuses the thread
 * runtime (worker-runtime.ts) unchanged: the runtime talks to a MessagePort, and this file
 * bridges the other end of that port to the IPC channel (process.send / 'message'), whose
 * `serialization: 'advanced'` copies values with the same structured clone as threads.
 *
 * Start-up: the pool cannot post before the child listens (a message that arrives before a
 * 'message' listener is lost), so the child says Hello, the pool answers Init, and only then is
 * the runtime loaded.
 */
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { serializeError } from './error-serialization.js';
import { kProcessRuntime, type ProcessInit, ProcessOp } from './process-protocol.js';
import { type RuntimeData, slabBytes } from './protocol.js';

const send = process.send?.bind(process);
if (send === undefined) {
  console.error(
    'offthread: process-entry is started by a Pool with runtime: "process"; it cannot run on its own.',
  );
  process.exit(1);
}

process.on('message', onInit);
send([ProcessOp.Hello]);

function onInit(message: unknown): void {
  if (!Array.isArray(message) || message[0] !== ProcessOp.Init) return;
  process.off('message', onInit);
  start(message[1] as ProcessInit);
}

function start(init: ProcessInit): void {
  const { port1, port2 } = new MessageChannel();
  const runtime: RuntimeData = {
    ...init,
    port: port2,
    // Nobody reads it across processes: the pool knows what it wrote to this child and what came
    // back (process-thread.ts). The runtime writes it as in a thread, which costs nothing.
    slab: new SharedArrayBuffer(slabBytes(init.concurrency)),
  };
  (globalThis as Record<symbol, RuntimeData>)[kProcessRuntime] = runtime;
  const forward = (message: unknown) => {
    try {
      send?.(message);
    } catch {
      // The channel is closed: the pool is gone or stopping us; what is lost is accounted for there.
    }
  };
  process.on('message', (message) => port1.postMessage(message));
  port1.on('message', forward);
  // Tell the pool what brings the process down, as a thread's 'error' event would; an error
  // that the task code's own 'uncaughtException' listener handles does not end the process.
  process.on('uncaughtExceptionMonitor', (error) => {
    if (process.listenerCount('uncaughtException') === 0)
      forward([ProcessOp.Crash, serializeError(error)]);
  });
  // The pool's process ended or let go of us: nobody is left to take results.
  process.on('disconnect', () => process.exit(0));
  watchParent();
  void import('./worker-runtime.js').then(() => {
    // Registered after the runtime's own 'exit' listener, which flushes buffered results into
    // the port: take them out synchronously and send them before the process is gone.
    process.on('exit', () => {
      for (let next = receiveMessageOnPort(port1); next; next = receiveMessageOnPort(port1))
        forward(next.message);
    });
  });
}

/**
 * 'disconnect' cannot reach a child whose task is stuck in a synchronous loop, so a pool's
 * process that dies (SIGKILL, crash) would leave it spinning forever. A small thread that does
 * not share that event loop watches the parent pid and ends the process once it changed (the
 * orphan was adopted by init or a subreaper). It is unref'd, started without the app's
 * execArgv or NODE_OPTIONS (no preloaded instrumentation in it), and costs one idle thread.
 */
function watchParent(): void {
  const source = `
    const { workerData } = require('node:worker_threads');
    setInterval(() => {
      if (process.ppid !== workerData.parent) process.kill(workerData.self, 'SIGKILL');
    }, 500);
  `;
  try {
    const watchdog = new Worker(source, {
      eval: true,
      workerData: { parent: process.ppid, self: process.pid },
      execArgv: [],
      env: {},
      stdout: true,
      stderr: true,
    });
    watchdog.unref();
    watchdog.on('error', () => {});
  } catch {
    // Without the watchdog an orphan still exits on 'disconnect' once its event loop is free.
  }
}
