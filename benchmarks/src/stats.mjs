/** @param {number[]} xs */
export function mean(xs) {
  let sum = 0;
  for (const x of xs) sum += x;
  return xs.length ? sum / xs.length : Number.NaN;
}

/**
 * Nearest-rank percentile.
 * @param {number[]} xs
 * @param {number} p in [0, 100]
 */
export function percentile(xs, p) {
  if (xs.length === 0) return Number.NaN;
  const sorted = Float64Array.from(xs).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** @param {number[]} xs */
export const median = (xs) => {
  if (xs.length === 0) return Number.NaN;
  const s = Float64Array.from(xs).sort();
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/**
 * Median of each numeric field across several result objects (one per repetition).
 * @template {Record<string, number>} T
 * @param {T[]} results
 * @returns {T}
 */
export function medianOfFields(results) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const key of Object.keys(results[0] ?? {})) {
    out[key] = median(results.map((r) => r[key]));
  }
  return /** @type {T} */ (out);
}
