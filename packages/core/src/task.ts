import type { Transferable } from 'node:worker_threads';
import type { Thread } from './thread.js';

/** One `run()` call, from acceptance until its promise settles. */
export class Task {
  thread: Thread | undefined;
  timer: NodeJS.Timeout | undefined;
  /** True once the caller's promise was settled (a timed-out task may still occupy its thread). */
  settled = false;
  onAbort: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly fnId: number,
    readonly arg: unknown,
    readonly spread: boolean,
    readonly transferList: readonly Transferable[] | undefined,
    readonly priority: number,
    readonly timeout: number | undefined,
    readonly signal: AbortSignal | undefined,
    readonly submittedAt: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (reason: unknown) => void,
  ) {}

  /** Tasks that must start exactly when sent (so their timer or abort grace is fair) are not batched ahead. */
  get batchable(): boolean {
    return this.timeout === undefined && this.signal === undefined;
  }
}
