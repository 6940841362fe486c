// request-context.mjs: the app's per-request storage,
// shared by the app and the task module.
import { AsyncLocalStorage } from 'node:async_hooks';
import { restoreCarry } from '@offthread/core/worker';

/** @type {AsyncLocalStorage<string>} */
export const requestId = new AsyncLocalStorage();

// In a pool thread: each task runs inside requestId.run(<the caller's value>).
// In the app (the main thread) it does nothing.
restoreCarry({ requestId });

/** A log line that says which request it belongs to, wherever it runs. */
export const log = (message) =>
  console.log(`[${requestId.getStore() ?? '-'}] ${message}`);
