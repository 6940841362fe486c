/** A pure-JavaScript CPU-bound function: nothing in it can leave the thread it runs on. */
export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
