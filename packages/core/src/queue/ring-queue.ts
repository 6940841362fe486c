/**
 * A growable FIFO ring buffer. Array#shift is O(n) once V8 gives up on its fast path, which a
 * burst of 100k queued tasks does; this stays O(1) and reuses its slots.
 */
export class RingQueue<T> {
  private items: (T | undefined)[] = new Array(64);
  private head = 0;
  private tail = 0;
  size = 0;

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[this.tail] = item;
    this.tail = (this.tail + 1) & (this.items.length - 1);
    this.size++;
  }

  /** Put an item back at the front (used for tasks a dead thread never started). */
  unshift(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.size++;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.size--;
    return item;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    const mask = this.items.length - 1;
    for (let i = 0; i < this.size; i++) yield this.items[(this.head + i) & mask] as T;
  }

  private grow(): void {
    const old = this.items;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.items = next;
    this.head = 0;
    this.tail = this.size;
  }
}
