import { isOffThreadError, OffThreadErrorCode } from '../index.js';
import { processSingleton } from './process-state.js';

/** One start-up check tracked by a {@link StartupRegistry}. */
export interface StartupCheck {
  /**
   * Settles with the check. Give it to the app after calling {@link markHandled} (the app
   * reading it is the app handling it).
   */
  readonly promise: Promise<void>;
  /** The failure, once the check failed; `undefined` while running or after success. */
  readonly error: Error | undefined;
  /**
   * Mark the failure as seen by the app (it awaited the middleware's own `ready`, or a request
   * answered with it and the app's error handler got it): no warning will be printed for it.
   */
  markHandled(): void;
  /**
   * Print the failure as a process warning now, unless it was handled or already printed. Call
   * it where the app shows it did not check (a request reaches a route whose check failed).
   */
  warnIfUnhandled(): void;
}

/** Options of {@link StartupRegistry.track}. */
export interface TrackOptions {
  /**
   * Print an unhandled failure as a process warning after this many ms, for apps that never
   * check. Defaults to 10 000: longer than any start-up work an app does between creating its
   * routes and awaiting the registry's `ready()`. The timer does not keep the process alive.
   */
  warnAfter?: number;
}

/**
 * The start-up checks of one adapter, process-wide. Failed checks stay until the process ends
 * (one entry per failed middleware, so bounded by the app's routes); passed checks are dropped.
 */
export interface StartupRegistry {
  /** Track a check. A rejection with ERR_OFFTHREAD_POOL_CLOSED counts as passed: a closed pool says nothing about the module. */
  track(check: Promise<unknown>, options?: TrackOptions): StartupCheck;
  /**
   * Wait for every check tracked so far, finished ones included. Resolves when all passed;
   * rejects with the one failure, or an AggregateError whose `errors` holds every failure when
   * there are several. Every failure it rejects with counts as handled (no warning).
   */
  ready(): Promise<void>;
}

interface Entry extends StartupCheck {
  settled: Promise<void>;
}

/**
 * The process-wide {@link StartupRegistry} named `name` (e.g. `'express'`): the ESM and CJS
 * copies of an adapter get the same one.
 */
export function startupRegistry(name: string): StartupRegistry {
  return processSingleton(`offthread.adapter.startup.${name}`, createStartupRegistry);
}

/** A registry of one's own, not shared (for tests and for apps that want several). */
export function createStartupRegistry(): StartupRegistry {
  const entries = new Set<Entry>();
  return {
    track(check, options = {}) {
      const warnAfter = options.warnAfter ?? 10_000;
      let error: Error | undefined;
      let handled = false;
      let warned = false;
      let timer: NodeJS.Timeout | undefined;
      const entry: Entry = {
        promise: undefined as unknown as Promise<void>,
        settled: undefined as unknown as Promise<void>,
        get error() {
          return error;
        },
        markHandled() {
          handled = true;
          if (timer) clearTimeout(timer);
        },
        warnIfUnhandled() {
          if (!error || handled || warned) return;
          warned = true;
          if (timer) clearTimeout(timer);
          process.emitWarning(error);
        },
      };
      const promise = Promise.resolve(check).then(
        () => {
          entries.delete(entry);
        },
        (reason: unknown) => {
          if (isOffThreadError(reason, OffThreadErrorCode.POOL_CLOSED)) {
            entries.delete(entry);
            return;
          }
          error = reason instanceof Error ? reason : new Error(String(reason));
          if (!handled && Number.isFinite(warnAfter)) {
            timer = setTimeout(() => entry.warnIfUnhandled(), warnAfter);
            timer.unref();
          }
          throw error;
        },
      );
      (entry as { promise: Promise<void> }).promise = promise;
      // Never an unhandled rejection: failures surface through ready(), the route, or a warning.
      promise.catch(() => {});
      entry.settled = promise.then(
        () => {},
        () => {},
      );
      entries.add(entry);
      return entry;
    },
    async ready() {
      const snapshot = [...entries];
      await Promise.all(snapshot.map((e) => e.settled));
      const errors: Error[] = [];
      for (const e of snapshot) {
        if (e.error === undefined) continue;
        e.markHandled();
        errors.push(e.error);
      }
      const [only] = errors;
      if (errors.length === 1 && only) throw only;
      if (errors.length > 1) {
        throw new AggregateError(
          errors,
          `${errors.length} start-up checks failed:\n- ${errors.map((e) => e.message).join('\n- ')}`,
        );
      }
    },
  };
}

/**
 * Run a start-up check (`pool.preload()`, or a check task) and retry it while the pool answers
 * ERR_OFFTHREAD_QUEUE_FULL: a full queue says nothing about the module (with a small `maxQueue`
 * even a pool whose threads are still starting is full). Gives up after about 8 s of retries.
 */
export async function retryWhileQueueFull<T>(check: () => Promise<T>): Promise<T> {
  for (let attempt = 1, delay = 10; ; attempt++, delay = Math.min(delay * 2, 500)) {
    try {
      return await check();
    } catch (error) {
      if (!isOffThreadError(error, OffThreadErrorCode.QUEUE_FULL) || attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }
}
