import { Pool } from '@offthread/core';

const pool = new Pool({ filename: new URL('./stream-task.mjs', import.meta.url) });

// At most `window` values wait unread: a slow consumer slows the generator down.
for await (const row of pool.stream({ count: 1000 }, { name: 'rows', window: 16 })) {
  if (row.id > 3) break; // stops the generator in its thread: its finally runs
  console.log(row);
}

// Read to the end by hand, the final { done: true } carries the return value.
const stream = pool.stream({ count: 2 }, { name: 'rows' });
for (let step = await stream.next(); ; step = await stream.next()) {
  if (step.done) {
    console.log('returned', step.value);
    break;
  }
}
await pool.close();
