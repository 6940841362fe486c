import './tracing.mjs';
import { Pool } from '@offthread/core';
import { trace } from '@opentelemetry/api';
import { log, requestId } from './request-context.mjs';

const pool = new Pool({
  filename: new URL('./context-task.mjs', import.meta.url),
  // OpenTelemetry needs no option (traceContext defaults to true);
  // the stores to copy are named.
  carry: { requestId },
});
const tracer = trace.getTracer('app');

// What an HTTP framework with OpenTelemetry instrumentation does for each request.
await requestId.run('req-7', () =>
  tracer.startActiveSpan('GET /report', async (span) => {
    log('handling the request');
    const report = await pool.run(1000);
    console.log('same trace:', report.traceId === span.spanContext().traceId);
    console.log(
      'parent is the request span:',
      report.parentSpanId === span.spanContext().spanId,
    );
    span.end();
  }),
);
await pool.close();
