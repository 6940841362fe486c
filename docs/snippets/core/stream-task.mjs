// stream-task.mjs: an async generator export; each yielded value goes to the caller.
import { setTimeout as sleep } from 'node:timers/promises';

export async function* rows({ count }) {
  try {
    for (let id = 1; id <= count; id++) {
      await sleep(1); // a page from a database, a line of a big file...
      yield { id, square: id * id };
    }
    return `${count} rows`;
  } finally {
    // Runs when the generator ends, fails, or the caller stops reading.
    console.log('generator closed');
  }
}
