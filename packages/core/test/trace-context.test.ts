// Trace context into the thread (issue 14 item 4), with a real OpenTelemetry SDK on both sides:
// BasicTracerProvider + SimpleSpanProcessor + InMemorySpanExporter here and in the thread
// (test/fixtures/trace-context.mjs), AsyncLocalStorageContextManager on both.
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  TraceState,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { RunFlag } from '../src/protocol.js';
import { recordRuns } from './context-helpers.js';
import { createPool, fixture } from './helpers.js';

const traceTasks = fixture('trace-context.mjs');
const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracer = trace.getTracer('offthread-test-caller');

interface ThreadSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
}

/** Run `fn` inside a new active span of the caller; returns fn's result and the span. */
async function inCallerSpan<T>(
  name: string,
  fn: () => Promise<T>,
): Promise<{ result: T; span: Span }> {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      return { result: await fn(), span };
    } finally {
      span.end();
    }
  });
}

const byName = (spans: ThreadSpan[], name: string) => spans.find((s) => s.name === name);

describe('trace context: the caller span is the parent of spans started in the task', () => {
  it('an async task: its span and a nested span are in the caller trace, under the caller span', async () => {
    const pool = createPool({ filename: traceTasks, minThreads: 1, maxThreads: 1 });
    const { span } = await inCallerSpan('caller', () => pool.run('task', { name: 'traced' }));
    const spans: ThreadSpan[] = await pool.run(undefined, { name: 'finishedSpans' });
    const task = byName(spans, 'task');
    const inner = byName(spans, 'task/inner');
    expect(task?.traceId).toBe(span.spanContext().traceId);
    expect(task?.parentSpanId).toBe(span.spanContext().spanId);
    // After an await inside the task, the task's own span is still the active one.
    expect(inner?.traceId).toBe(span.spanContext().traceId);
    expect(inner?.parentSpanId).toBe(task?.spanId);
  });

  it('a synchronous task (and pool.proxy()) gets the caller span as parent too', async () => {
    const pool = createPool({ filename: traceTasks, minThreads: 1, maxThreads: 1 });
    const tasks = pool.proxy<{ tracedSync(name: string): unknown }>();
    const { span } = await inCallerSpan('caller', async () => {
      await pool.run('sync', { name: 'tracedSync' });
      await tasks.tracedSync('proxied');
    });
    const spans: ThreadSpan[] = await pool.run(undefined, { name: 'finishedSpans' });
    for (const name of ['sync', 'proxied']) {
      expect(byName(spans, name)?.traceId).toBe(span.spanContext().traceId);
      expect(byName(spans, name)?.parentSpanId).toBe(span.spanContext().spanId);
    }
  });

  it('concurrent callers, interleaved in one thread, each parent their own task', async () => {
    const pool = createPool({
      filename: traceTasks,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 4,
    });
    const callers = await Promise.all(
      [0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
        inCallerSpan(`caller-${i}`, () => pool.run(`task-${i}`, { name: 'traced' })),
      ),
    );
    const spans: ThreadSpan[] = await pool.run(undefined, { name: 'finishedSpans' });
    callers.forEach(({ span }, i) => {
      const task = byName(spans, `task-${i}`);
      const inner = byName(spans, `task-${i}/inner`);
      expect(task?.traceId).toBe(span.spanContext().traceId);
      expect(task?.parentSpanId).toBe(span.spanContext().spanId);
      expect(inner?.parentSpanId).toBe(task?.spanId);
    });
    // Eight distinct traces: no task ran in another caller's context.
    expect(new Set(callers.map(({ span }) => span.spanContext().traceId)).size).toBe(8);
  });

  it('pool.broadcast(): the call on every thread is a child of the caller span', async () => {
    const pool = createPool({ filename: traceTasks, minThreads: 2, maxThreads: 2 });
    const { result, span } = await inCallerSpan('caller', () =>
      pool.broadcast('everywhere', { name: 'traced' }),
    );
    expect(result.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const perThread = await pool.broadcast(undefined, { name: 'finishedSpans' });
    for (const entry of perThread) {
      expect(entry.status).toBe('fulfilled');
      const task = byName((entry as { value: ThreadSpan[] }).value, 'everywhere');
      expect(task?.traceId).toBe(span.spanContext().traceId);
      expect(task?.parentSpanId).toBe(span.spanContext().spanId);
    }
  });

  it('a task does not keep the context of the task before it on the same thread', async () => {
    const pool = createPool({ filename: traceTasks, minThreads: 1, maxThreads: 1 });
    await inCallerSpan('caller', () => pool.run('first', { name: 'traced' }));
    const after = await pool.run(undefined, { name: 'activeContext' });
    expect(after.traceId).toBeUndefined();
  });
});

describe('trace context: nothing crosses when there is nothing to carry', () => {
  it('with OpenTelemetry registered but no active span, the task message carries only the argument', async () => {
    const pool = createPool({ filename: traceTasks, minThreads: 1, maxThreads: 1 });
    await pool.run(undefined, { name: 'finishedSpans' });
    const runs = recordRuns();
    const seen = await pool.run(undefined, { name: 'activeContext' });
    expect(seen.traceId).toBeUndefined();
    expect(runs).toHaveLength(1);
    expect((runs[0]?.flags ?? 0) & RunFlag.Context).toBe(0);
    expect(runs[0]?.arg).toBeUndefined();
  });

  it('an invalid (all-zero) active span context is not sent', async () => {
    const pool = createPool({ filename: traceTasks, minThreads: 1, maxThreads: 1 });
    await pool.run(undefined, { name: 'finishedSpans' });
    const runs = recordRuns();
    const invalid = trace.wrapSpanContext({
      traceId: '00000000000000000000000000000000',
      spanId: '0000000000000000',
      traceFlags: TraceFlags.NONE,
    });
    await context.with(trace.setSpan(ROOT_CONTEXT, invalid), () =>
      pool.run(undefined, { name: 'activeContext' }),
    );
    expect((runs[0]?.flags ?? 0) & RunFlag.Context).toBe(0);
  });

  it('traceContext: false sends nothing even inside an active span; the task span is a root', async () => {
    const pool = createPool({
      filename: traceTasks,
      minThreads: 1,
      maxThreads: 1,
      traceContext: false,
    });
    await pool.run(undefined, { name: 'finishedSpans' });
    const runs = recordRuns();
    const { span } = await inCallerSpan('caller', () => pool.run('task', { name: 'traced' }));
    expect(runs).toHaveLength(1);
    expect((runs[0]?.flags ?? 0) & RunFlag.Context).toBe(0);
    expect(runs[0]?.arg).toBe('task');
    const spans: ThreadSpan[] = await pool.run(undefined, { name: 'finishedSpans' });
    const task = byName(spans, 'task');
    expect(task?.parentSpanId).toBeUndefined();
    expect(task?.traceId).not.toBe(span.spanContext().traceId);
  });

  it('with an active span, exactly one task message carries the span context beside the argument', async () => {
    const pool = createPool({ filename: traceTasks, minThreads: 1, maxThreads: 1 });
    await pool.run(undefined, { name: 'finishedSpans' });
    const runs = recordRuns();
    const { span } = await inCallerSpan('caller', () => pool.run('task', { name: 'traced' }));
    expect(runs).toHaveLength(1);
    expect((runs[0]?.flags ?? 0) & RunFlag.Context).toBe(RunFlag.Context);
    // One flat array: [arg, traceId, spanId, traceFlags, headers] (context.ts ContextCarrier);
    // no headers without a registered propagator.
    expect((runs[0] as { arg: unknown }).arg).toEqual([
      'task',
      span.spanContext().traceId,
      span.spanContext().spanId,
      span.spanContext().traceFlags,
      undefined,
    ]);
  });

  it('a thread without OpenTelemetry runs the task as usual (the carrier is ignored)', async () => {
    const pool = createPool({
      filename: traceTasks,
      minThreads: 1,
      maxThreads: 1,
      workerData: { otel: false },
    });
    const { result } = await inCallerSpan('caller', () =>
      pool.run(undefined, { name: 'activeContext' }),
    );
    expect(result.traceId).toBeUndefined();
  });

  it('options.traceContext must be a boolean', () => {
    expect(() => createPool({ traceContext: 'yes' as never })).toThrow(
      /options\.traceContext must be true or false, got "yes"/,
    );
  });
});

describe('trace context with a registered propagator: tracestate and baggage cross too', () => {
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  afterAll(() => propagation.disable());

  const parent = trace.wrapSpanContext({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    traceState: new TraceState('vendor=abc,other=1'),
  });
  const callerContext = propagation.setBaggage(
    trace.setSpan(ROOT_CONTEXT, parent),
    propagation.createBaggage({ tenant: { value: 'acme' } }),
  );

  it('without tracestate or baggage, only the span context is sent (traceparent would repeat it)', async () => {
    const pool = createPool({ filename: traceTasks, minThreads: 1, maxThreads: 1 });
    await pool.run(undefined, { name: 'finishedSpans' });
    const runs = recordRuns();
    const { span } = await inCallerSpan('caller', () => pool.run('task', { name: 'traced' }));
    expect((runs[0] as { arg: unknown }).arg).toEqual([
      'task',
      span.spanContext().traceId,
      span.spanContext().spanId,
      span.spanContext().traceFlags,
      undefined,
    ]);
  });

  it('the thread extracts them with its own propagator', async () => {
    const pool = createPool({
      filename: traceTasks,
      minThreads: 1,
      maxThreads: 1,
      workerData: { propagator: true },
    });
    const seen = await context.with(callerContext, () =>
      pool.run(undefined, { name: 'activeContext' }),
    );
    expect(seen).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: 'vendor=abc,other=1',
      baggage: { tenant: 'acme' },
    });
  });

  it('a thread without a propagator still gets the caller span as parent (from the span context)', async () => {
    const pool = createPool({ filename: traceTasks, minThreads: 1, maxThreads: 1 });
    await context.with(callerContext, () => pool.run('task', { name: 'traced' }));
    const spans: ThreadSpan[] = await pool.run(undefined, { name: 'finishedSpans' });
    expect(byName(spans, 'task')).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentSpanId: 'b7ad6b7169203331',
    });
  });
});

describe('trace context under OpenTelemetry HTTP instrumentation', () => {
  it("an HTTP request's server span is the parent of the span its handler's task starts", async () => {
    // A plain node process (CJS), so the instrumentation patches node:http as it would in an app.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [fileURLToPath(fixture('http-trace-server.cjs'))],
      { timeout: 60_000 },
    );
    const { response, server, thread } = JSON.parse(stdout);
    expect(server).toMatchObject({ name: 'GET' });
    expect(thread).toMatchObject({
      name: 'handler work',
      traceId: server.traceId,
      parentSpanId: server.spanId,
    });
    expect(response).toEqual({ traceId: server.traceId, spanId: thread.spanId });
  });
});

describe('trace context with the SDK started by node --import', () => {
  it('the preload runs in the pool threads too (they inherit execArgv), so tasks need no set-up of their own', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        pathToFileURL(fileURLToPath(fixture('otel-preload.mjs'))).href,
        fileURLToPath(fixture('preloaded-main.mjs')),
      ],
      { timeout: 60_000 },
    );
    const { caller, seen } = JSON.parse(stdout);
    expect(seen).toEqual({ activeSpanId: caller.spanId, traceId: caller.traceId });
  });
});

describe('trace context with runtime: process', () => {
  it('a span started in a child process task is a child of the caller span', async () => {
    const pool = createPool({
      filename: traceTasks,
      minThreads: 1,
      maxThreads: 1,
      runtime: 'process',
    });
    const { span } = await inCallerSpan('caller', () => pool.run('in-child', { name: 'traced' }));
    const spans: ThreadSpan[] = await pool.run(undefined, { name: 'finishedSpans' });
    expect(byName(spans, 'in-child')).toMatchObject({
      traceId: span.spanContext().traceId,
      parentSpanId: span.spanContext().spanId,
    });
  });
});
