import type { Transferable } from 'node:worker_threads';

/**
 * A value wrapped by {@link transfer}. The marker is a registered symbol so a wrapper made by
 * one copy of the package (ESM or CJS, main or worker) is recognised by any other.
 */
export interface Transferred<T> {
  readonly [kTransfer]: true;
  readonly value: T;
  readonly transferList: readonly Transferable[];
}

export const kTransfer: unique symbol = Symbol.for('offthread.transfer') as never;

/** What `transfer()`'s `transferList` may hold: buffers, views on them (their buffer moves), ports. */
export type TransferableValue = ArrayBuffer | ArrayBufferView | Transferable;

/**
 * Move `value` to the other thread instead of copying it. For an ArrayBuffer or a typed array
 * the underlying memory changes owner in O(1) and becomes unusable (detached) on the sending
 * side. Use it for the `pool.run()` argument, or return it from a task to move the result back.
 *
 * @param value the value to send (it is what the other side receives)
 * @param transferList what to move; defaults to the buffer behind `value`
 */
export function transfer<T>(value: T, transferList?: readonly TransferableValue[]): Transferred<T> {
  if (transferList === undefined && ArrayBuffer.isView(value) && !ownsWholeBuffer(value)) {
    // A view on part of a larger buffer (small Buffers share Node's 8 KiB pool): moving the whole
    // buffer would detach memory the sender still uses (Node 21+ refuses; Node 20 silently copies
    // the whole slab). Copy just the viewed bytes into a buffer of their own and move that.
    const own = copyView(value);
    return { [kTransfer]: true, value: own as T, transferList: [own.buffer as ArrayBuffer] };
  }
  const list = (transferList ?? [value as unknown as TransferableValue]).map(toTransferable);
  return { [kTransfer]: true, value, transferList: list };
}

function ownsWholeBuffer(view: ArrayBufferView): boolean {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
}

function copyView(view: ArrayBufferView): ArrayBufferView {
  const bytes = new Uint8Array(view.byteLength);
  bytes.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  if (view instanceof DataView) return new DataView(bytes.buffer);
  // Buffers arrive as Uint8Array on the other side anyway; other typed arrays keep their type.
  if (typeof Buffer !== 'undefined' && Buffer.isBuffer(view)) return bytes;
  const TypedArray = view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView;
  return new TypedArray(bytes.buffer);
}

function toTransferable(item: TransferableValue): Transferable {
  if (ArrayBuffer.isView(item)) return item.buffer as ArrayBuffer;
  if (item instanceof ArrayBuffer) return item;
  if (item !== null && typeof item === 'object') return item as Transferable;
  throw new TypeError(
    'transfer(value) expects an ArrayBuffer, a typed array, a MessagePort or another transferable object; pass transferList explicitly for containers',
  );
}

/**
 * Is `value` a wrapper made by {@link transfer}? Only an own marker counts (a polluted
 * `Object.prototype` must not turn every argument into a wrapper), and a value that cannot be
 * inspected (a Proxy whose traps throw) is not a wrapper: it fails later as uncloneable instead
 * of throwing here, on the path that sends a task or its result.
 */
export function isTransferred(value: unknown): value is Transferred<unknown> {
  if (value === null || typeof value !== 'object') return false;
  try {
    return (
      Object.hasOwn(value, kTransfer) && (value as Record<symbol, unknown>)[kTransfer] === true
    );
  } catch {
    return false;
  }
}
