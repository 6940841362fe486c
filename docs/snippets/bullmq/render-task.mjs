// dist/render.js: an ordinary offthread task module; the same file runs locally or
// remotely.
import { currentTask } from '@offthread/core/worker';

export default async function render({ title, rows }) {
  const { signal } = currentTask();
  const lines = [];
  for (const row of rows) {
    signal.throwIfAborted(); // fires when the caller aborts, even on another machine
    lines.push(`${title}: ${row}`);
  }
  return lines.join('\n');
}
