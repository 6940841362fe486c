// Returning an async iterable streams the response as it is produced, with backpressure:
// the thread waits while the client is slower than the generator.
import { reply } from '@offthread/express/worker';

export default function exportCsv(req) {
  const rows = Math.min(Number(req.query.rows ?? 1000), 100_000);
  return reply({
    headers: { 'content-type': 'text/csv' },
    body: generate(rows),
  });
}

async function* generate(rows) {
  yield 'id,square\n';
  for (let i = 0; i < rows; i++) yield `${i},${i * i}\n`;
}
