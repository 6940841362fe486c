/** Node timers hold at most 2^31-1 ms; a longer delay would fire after 1 ms with a warning. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timeout of any length, scheduled in steps a timer can hold. */
export function longTimeout(fn: () => void, ms: number): { clear(): void } {
  let timer: NodeJS.Timeout;
  const due = Date.now() + ms;
  const arm = () => {
    const left = due - Date.now();
    if (left <= 0) return fn();
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  timer = setTimeout(arm, Math.min(ms, MAX_TIMER_MS));
  return { clear: () => clearTimeout(timer) };
}
