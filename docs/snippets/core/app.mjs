// app.mjs
import { Pool } from '@offthread/core';

const pool = new Pool({ filename: new URL('./tasks.mjs', import.meta.url) });

const digest = await pool.run('hello'); // the default export
const words = await pool.run('one two three', { name: 'wordCount' }); // a named export
console.log(digest.length, words); // 64 3

// Many calls at once spread over the threads; the event loop stays free meanwhile.
const digests = await Promise.all(['a', 'b', 'c', 'd'].map((text) => pool.run(text)));
console.log(digests.length); // 4

await pool.close(); // finishes queued work, then stops the threads
