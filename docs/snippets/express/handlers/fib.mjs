// Runs in a pool thread. It gets a plain snapshot of the request and returns the response.
import { fib } from '../../why/fib.mjs';

export default function fibHandler(req) {
  const n = Math.min(Number(req.query.n ?? 30), 40);
  return { n, result: fib(n) }; // sent as JSON
}
