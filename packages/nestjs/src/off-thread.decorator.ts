import { Inject } from '@nestjs/common';
import { isOffThreadWorker } from '@offthread/core/worker';
import { captureDefiningFile } from './class-location.js';
import { kOffThreadClass, OFFTHREAD_POOL } from './off-thread.constants.js';
import { checkOffThreadOptions, type OffThreadOptions } from './off-thread.options.js';
import { type DecoratedClass, sharedState } from './protocol.js';

const ownFile = __filename;

/**
 * Run this method in a worker thread of the `OffThreadModule` pool. Calls return a promise of
 * the result; arguments and result are copied by structured clone (use `options.transfer` or
 * `transfer()` to move buffers). In the thread, the method runs on the instance that the worker
 * module's Nest context resolves, so injected dependencies work there too.
 *
 * The method must be `async` (or return a Promise) and belong to a singleton or transient
 * provider exported from its file; anything else fails at application start-up.
 *
 * @param options per-method timeout, priority and transfer list; see {@link OffThreadOptions}
 * @throws {TypeError | RangeError} at class definition when an option is invalid
 *
 * @example
 * \@Injectable()
 * export class ReportService {
 *   constructor(private readonly formatter: FormatterService) {}
 *   \@OffThread({ timeout: 5000 })
 *   async build(input: ReportInput): Promise<Report> { ... }
 * }
 */
export function OffThread(options?: OffThreadOptions): MethodDecorator {
  const checked = checkOffThreadOptions(options);
  // Decorators run while the class's module is being evaluated: the stack leads to its file.
  const file = captureDefiningFile(ownFile);
  return (target: object, key: string | symbol, descriptor: PropertyDescriptor) => {
    const className =
      (target as { constructor?: { name?: string } }).constructor?.name ?? '(anonymous class)';
    if (typeof key !== 'string') {
      throw new TypeError(
        `@OffThread() on ${className}: the method needs a string name, not a symbol`,
      );
    }
    if (typeof target === 'function') {
      throw new TypeError(
        `@OffThread() on static method ${className}.${key}: only instance methods of providers can run off-thread`,
      );
    }
    const original = descriptor?.value;
    if (typeof original !== 'function') {
      throw new TypeError(
        `@OffThread() on ${className}.${key}: it decorates methods, not properties or accessors`,
      );
    }
    record(target, key, file, checked, original);
    // In a pool thread the body runs here, inline: this is where the work was sent.
    if (isOffThreadWorker()) return descriptor;
    const dispatch = function (this: object, ...args: unknown[]): Promise<unknown> {
      const runtime = sharedState().runtime;
      if (!runtime) {
        return Promise.reject(
          new Error(
            `${className}.${key}() is an @OffThread() method but no OffThreadModule is running. Import OffThreadModule.forRoot() in your root module and call the method once the application has started (after app.init() or app.listen()).`,
          ),
        );
      }
      // Detached (`items.map(service.fib)`): the call has no instance, so nothing tells which
      // provider a thread should resolve. Say so, rather than fail inside the runtime.
      if (!isInstanceOf(this, target)) {
        return Promise.reject(
          new TypeError(
            `${className}.${key}() was called without its instance (\`this\` is ${describeThis(this)}), as happens when the method is passed as a callback: items.map(service.${key}). An @OffThread() method runs on the provider's instance in a thread: call it on the instance, items.map((x) => service.${key}(x)), or bind it, service.${key}.bind(service).`,
          ),
        );
      }
      // The method is async for its callers: anything thrown while sending (a transfer function
      // that throws, a bad transfer list) rejects the promise rather than throwing synchronously.
      try {
        return runtime.call(this, key, checked, args);
      } catch (error) {
        return Promise.reject(error);
      }
    };
    Object.defineProperty(dispatch, 'name', { value: original.name, configurable: true });
    copyMetadata(original, dispatch);
    descriptor.value = dispatch;
    return descriptor;
  };
}

function isInstanceOf(value: unknown, prototype: object): value is object {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    Object.prototype.isPrototypeOf.call(prototype, value)
  );
}

function describeThis(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (typeof value !== 'object' && typeof value !== 'function') return `a ${typeof value}`;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name ? `a ${name}` : 'another object';
}

function record(
  target: object,
  key: string,
  file: string | undefined,
  options: OffThreadOptions,
  original: (...args: unknown[]) => unknown,
): void {
  const holder = target as Record<symbol, DecoratedClass | undefined>;
  let info = Object.hasOwn(target, kOffThreadClass) ? holder[kOffThreadClass] : undefined;
  if (!info) {
    info = { file, methods: new Map() };
    Object.defineProperty(target, kOffThreadClass, {
      value: info,
      enumerable: false,
      configurable: true,
    });
  }
  info.file ??= file;
  info.methods.set(key, { options, original });
}

/** Decorators applied before this one (e.g. `@Get()`) stored metadata on the original function. */
function copyMetadata(from: object, to: object): void {
  const reflect = Reflect as unknown as {
    getMetadataKeys?: (target: object) => unknown[];
    getMetadata?: (key: unknown, target: object) => unknown;
    defineMetadata?: (key: unknown, value: unknown, target: object) => void;
  };
  if (!reflect.getMetadataKeys || !reflect.getMetadata || !reflect.defineMetadata) return;
  for (const key of reflect.getMetadataKeys(from))
    reflect.defineMetadata(key, reflect.getMetadata(key, from), to);
}

/** The decorated classes and methods found on a prototype chain, nearest first. */
export function decoratedMethods(
  prototype: object | null,
):
  | { file: string | undefined; methods: Map<string, import('./protocol.js').DecoratedMethod> }
  | undefined {
  let file: string | undefined;
  const methods = new Map<string, import('./protocol.js').DecoratedMethod>();
  for (let p = prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const info = Object.hasOwn(p, kOffThreadClass)
      ? (p as Record<symbol, DecoratedClass>)[kOffThreadClass]
      : undefined;
    if (!info) continue;
    if (p === prototype) file = info.file;
    for (const [name, method] of info.methods) if (!methods.has(name)) methods.set(name, method);
  }
  return methods.size ? { file, methods } : undefined;
}

/**
 * Inject the `OffThreadModule` pool, for direct `pool.run()` calls of your own task modules.
 *
 * @example
 * constructor(\@InjectPool() private readonly pool: Pool) {}
 */
export function InjectPool(): PropertyDecorator & ParameterDecorator {
  return Inject(OFFTHREAD_POOL);
}
