import { Pool } from '@offthread/core';

const pool = new Pool({ filename: new URL('./progress-task.mjs', import.meta.url) });
const rows = Array.from({ length: 1000 }, (_, i) => `row ${i}`);

const imported = await pool.run(rows, {
  onProgress: ({ done, total }) => console.log(`${Math.round((done / total) * 100)}%`),
});
console.log('imported', imported);
await pool.close();
