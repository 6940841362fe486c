/** Redis keys and channels this package adds next to BullMQ's own for a queue. */
export function keys(prefix: string, queue: string) {
  const base = `${prefix}:${queue}`;
  return {
    /** BullMQ's event stream of the queue. */
    events: `${base}:events`,
    /** Hash: worker id -> JSON report, rewritten every second by each serve(). */
    workers: `${base}:offthread:workers`,
    /** Pub/sub channel: job ids whose running task must be aborted. */
    cancel: `${base}:offthread:cancel`,
    /** Pub/sub channel of one caller (a RemotePool's id): early results of its jobs. */
    result: (caller: string) => `${base}:offthread:result:${caller}`,
  };
}

/** A RemotePool's id as it appears in job data (`r`) and result channels: 8 hex digits. */
export const CALLER_ID = /^[0-9a-f]{8}$/;

/**
 * Largest outcome (base64 characters) a worker also publishes on its caller's result channel.
 * Larger results travel only once, in BullMQ's completion event: for them the transfer, not the
 * extra hop, is the latency.
 */
export const EARLY_RESULT_MAX = 64 * 1024;

/** The span of offthread priorities kept distinct; larger ones are clamped. */
export const PRIORITY_RANGE = 1_048_575;

/**
 * offthread: higher runs first, 0 by default, any number. BullMQ: 1 runs first, up to 2^21, and
 * jobs without a priority run before all prioritized ones. Every job gets a BullMQ priority so
 * the order is the same for all of them; priorities are rounded and clamped to ±1 048 575.
 */
export function toBullPriority(priority: number): number {
  const p = Math.max(-PRIORITY_RANGE, Math.min(PRIORITY_RANGE, Math.round(priority)));
  return PRIORITY_RANGE + 1 - p;
}
