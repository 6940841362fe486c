import { MessagePort } from 'node:worker_threads';
import { onTestFinished } from 'vitest';
import { decodeRun, Op } from '../src/protocol.js';

/**
 * Every task as it goes on the wire to a thread during the current test, seen by wrapping
 * MessagePort#postMessage (the pool's real transport; each message is passed on unchanged).
 */
export function recordRuns(): { flags: number; arg: unknown }[] {
  const seen: { flags: number; arg: unknown }[] = [];
  const original = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (
    this: MessagePort,
    message: unknown,
    ...rest: unknown[]
  ) {
    if (Array.isArray(message) && message[0] === Op.Run) {
      decodeRun(message, (_id, _fnId, flags, arg) => seen.push({ flags, arg }));
    }
    return (original as (...args: unknown[]) => void).call(this, message, ...rest);
  } as typeof original;
  onTestFinished(() => {
    MessagePort.prototype.postMessage = original;
  });
  return seen;
}
