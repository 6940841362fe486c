// The task module of measure.mjs: the same fib() as on the main thread.
import { fib } from './fib.mjs';

export default function fibTask(n) {
  return fib(n);
}
