// context-task.mjs: spans started here are children of the caller's span;
// the request id is there as it was in the caller.
import './tracing.mjs';
import { context, trace } from '@opentelemetry/api';
import { log } from './request-context.mjs';

const tracer = trace.getTracer('reports');

export default function buildReport(rows) {
  const parent = trace.getSpanContext(context.active());
  return tracer.startActiveSpan('build report', (span) => {
    log(`building ${rows} rows`);
    span.end();
    return {
      traceId: span.spanContext().traceId,
      parentSpanId: parent?.spanId,
    };
  });
}
