/**
 * The CPU-heavy work every heavy route does: the naive recursive Fibonacci number. It is
 * deterministic, allocates nothing and takes time exponential in `n` (fib(30) is about 10 ms),
 * so it stands for any synchronous computation: templating, parsing, image or crypto work in JS.
 */
export function fibonacci(n) {
  return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2);
}

/** Largest `n` the routes accept: fib(40) already takes about a second. */
export const MAX_N = 40;

/** Parse and check the `n` route parameter; a bad one is the client's mistake (400). */
export function parseN(raw) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_N) {
    const error = new RangeError(
      `n must be an integer from 0 to ${MAX_N}, got ${JSON.stringify(raw)}`,
    );
    error.status = 400;
    throw error;
  }
  return n;
}
