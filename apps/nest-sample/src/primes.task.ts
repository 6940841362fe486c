import { threadId } from 'node:worker_threads';
import { countPrimes } from './crunch';

/**
 * The hand-written alternative to @OffThread(): a plain task module run with pool.run(). The
 * overhead benchmark compares the two on the same work, in the same app.
 */
export default function primes(thousands: number): { primes: number; threadId: number } {
  return { primes: countPrimes(thousands * 1000), threadId };
}
