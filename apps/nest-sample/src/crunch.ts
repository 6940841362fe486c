/**
 * The CPU-heavy work both routes do: count the primes below a bound by trial division. Its
 * cost grows with `n`, it allocates nothing, and it blocks whichever thread runs it.
 */
export function countPrimes(limit: number): number {
  let count = 0;
  for (let candidate = 2; candidate < limit; candidate++) {
    let prime = true;
    for (let d = 2; d * d <= candidate; d++) {
      if (candidate % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}
