import type { MessagePort, Worker } from 'node:worker_threads';
import type { Task } from './task.js';

/** The pool's view of one worker thread. */
export class Thread {
  /** Tasks sent to the thread and not yet reported back, in the order they were sent. */
  readonly inFlight = new Map<number, Task>();
  /** Task functions this thread already knows (see Op.Register). */
  readonly registered = new Set<number>();
  ready = false;
  /** Set once we decided to stop the thread; it takes no more tasks. */
  exiting = false;
  /** Why the pool stopped it (timeout, abort grace, idle, close); undefined for a crash. */
  stopReason: string | undefined;
  /** The uncaught error that brought the thread down, if any. */
  crashError: Error | undefined;
  lastActive = 0;
  referenced = true;
  /** Event-loop utilization readings behind `stats().utilization` (see there). */
  eluBase: import('node:perf_hooks').EventLoopUtilization | undefined;
  eluMiddle: import('node:perf_hooks').EventLoopUtilization | undefined;

  constructor(
    readonly id: number,
    readonly worker: Worker,
    readonly port: MessagePort,
  ) {}

  /** Keep the process alive only while the thread has work, like a pending socket would. */
  setReferenced(referenced: boolean): void {
    if (this.referenced === referenced) return;
    this.referenced = referenced;
    if (referenced) {
      this.worker.ref();
      this.port.ref();
    } else {
      this.worker.unref();
      this.port.unref();
    }
  }
}
