// Runs in a pool thread: the same work as /blocking/:n, off the event loop.
import { fibonacci, parseN } from '../work.js';

export default function fibonacciHandler(req) {
  const n = parseN(req.params.n);
  return { n, fibonacci: fibonacci(n) };
}
