// tasks.mjs: a task module. Its exports run in pool threads: sync or async, default or
// named.
import { createHash } from 'node:crypto';

/** Hash a text 10,000 times: about 10 ms of pure CPU. */
export default function hash(text) {
  let digest = text;
  for (let i = 0; i < 10_000; i++)
    digest = createHash('sha256').update(digest).digest('hex');
  return digest;
}

export function wordCount(text) {
  return text.split(/\s+/).filter(Boolean).length;
}

export function add(a, b) {
  return a + b;
}
