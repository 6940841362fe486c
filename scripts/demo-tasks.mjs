// CPU-bound work for the demo: a deterministic hash loop that takes ~`ms` of one core.
export default function crunch(iterations) {
  let h = 2166136261;
  for (let i = 0; i < iterations; i++) {
    h ^= i;
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}
