import { Pool } from '@offthread/core';

const pool = new Pool({ filename: new URL('./tasks.mjs', import.meta.url) });

// Typed calls of the module's named exports, with their own argument lists.
const tasks = pool.proxy<typeof import('./tasks.mjs')>();
const sum: number = await tasks.add(2, 3);
const words: number = await tasks.wordCount('a b c');

// Per-call options (signal, timeout, priority...) without changing the argument list.
const urgent: number = await tasks.add.withOptions({
  priority: 10,
  timeout: 1_000,
})(1, 1);

console.log(sum, words, urgent);
await pool.close();
