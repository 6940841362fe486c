/**
 * Task bodies shared by every library's task file, so each pool runs exactly
 * the same code and only the plumbing differs.
 */

/** @param {number} x */
export const tiny = (x) => x + 1;

/** @param {number} n */
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/**
 * Pure-JS CPU work: naive recursive Fibonacci. Its cost is stable and grows by ~1.6x per
 * step of `n` (fib(32) takes ~25 ms on a 2020s x64 core), unlike a Math loop whose cost
 * depends on the argument range.
 * @param {number} n
 */
export const cpu = (n) => fib(n);
