// A long task that cooperates with cancellation: it checks its signal between steps.
import { currentTask } from '@offthread/core/worker';

export default async function render(job) {
  const { signal } = currentTask(); // aborted on signal abort or timeout
  const pages = [];
  for (let page = 1; page <= job.pages; page++) {
    signal.throwIfAborted(); // stop between steps instead of finishing for nobody
    pages.push(await renderPage(page));
  }
  return pages;
}

async function renderPage(page) {
  const until = Date.now() + 20; // stands for 20 ms of real work
  while (Date.now() < until);
  return `page ${page}`;
}
