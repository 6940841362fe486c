// A handler that sets the status and headers itself, with reply().
import { reply } from '@offthread/express/worker';

export default function report(req) {
  const rows = Array.isArray(req.body?.rows) ? req.body.rows : [];
  const csv = [
    'id,total',
    ...rows.map((r, i) => `${i},${Number(r.price) * Number(r.qty)}`),
  ].join('\n');
  return reply({
    status: 201,
    headers: { 'content-type': 'text/csv' },
    body: csv,
  });
}
