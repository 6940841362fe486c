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
  };
}

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
