// progress-task.mjs: a long task that says how far it got.
import { currentTask } from '@offthread/core/worker';

export default function importRows(rows) {
  const task = currentTask();
  let done = 0;
  for (const row of rows) {
    done += row.length > 0 ? 1 : 0;
    // Sends nothing unless the caller passed onProgress.
    if (done % 250 === 0) task.progress({ done, total: rows.length });
  }
  return done;
}
