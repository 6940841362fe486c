// A plain core task module: what a hand-written `pool.run()` route calls (see /manual/:n).
import { fibonacci } from '../work.js';

export default function fibonacciTask(n) {
  return fibonacci(n);
}
