import { Pool, transfer } from '@offthread/core';

const pool = new Pool({
  filename: new URL('./bytes-task.mjs', import.meta.url),
});

const image = new Uint8Array(16 * 1024 * 1024).fill(7);
// transfer() moves the buffer to the thread instead of copying 16 MB; `image` is empty
// afterwards.
const inverted = await pool.run(transfer(image));
console.log(image.byteLength, inverted.byteLength, inverted[0]); // 0 16777216 248

await pool.close();
