import { RingQueue } from './ring-queue.js';

/** What the queue needs of an item: its priority, and a flag the queue owns. */
export interface Queueable {
  readonly priority: number;
  /** True while the item is in a queue; the queue sets and clears it. */
  queued: boolean;
}

interface Bucket<T> {
  readonly priority: number;
  readonly items: RingQueue<T>;
  /** Items in `items` still queued (removed ones stay in the ring until they reach its head). */
  live: number;
}

/**
 * Queued tasks by priority (higher first), FIFO within one priority. Almost every app uses a
 * single priority, so the common case is one ring buffer and no sorting.
 *
 * Costs stay bounded whatever priorities callers choose: a bucket is freed as soon as it holds
 * no live item, a new priority is placed by binary search (no re-sort), and `remove` is O(1):
 * the item is only marked, and skipped when it reaches the head of its ring. That is what lets
 * 20 000 tasks sharing one AbortSignal leave the queue in one quick pass.
 */
export class TaskQueue<T extends Queueable> {
  private readonly buckets = new Map<number, Bucket<T>>();
  /** Priorities that have a bucket, ascending: the highest is last, so popping it is O(1). */
  private readonly order: number[] = [];
  /** Live items. */
  size = 0;

  push(item: T): void {
    const bucket = this.bucket(item.priority);
    bucket.items.push(item);
    bucket.live++;
    item.queued = true;
    this.size++;
  }

  /** Put an item back at the front of its priority (a task a dead thread never started). */
  unshift(item: T): void {
    const bucket = this.bucket(item.priority);
    bucket.items.unshift(item);
    bucket.live++;
    item.queued = true;
    this.size++;
  }

  peek(): T | undefined {
    const bucket = this.top();
    return bucket === undefined ? undefined : this.head(bucket);
  }

  shift(): T | undefined {
    const bucket = this.top();
    if (bucket === undefined) return undefined;
    const item = this.head(bucket);
    if (item === undefined) return undefined;
    bucket.items.shift();
    item.queued = false;
    this.size--;
    if (--bucket.live === 0) this.free(bucket);
    return item;
  }

  /** Take an item out wherever it is. O(1) (amortized): see the class comment. */
  remove(item: T): boolean {
    if (!item.queued) return false;
    item.queued = false;
    this.size--;
    const bucket = this.buckets.get(item.priority);
    if (bucket !== undefined && --bucket.live === 0) this.free(bucket);
    return true;
  }

  /** Take every live item out, highest priority first. */
  drain(): T[] {
    const all: T[] = [];
    for (let i = this.order.length - 1; i >= 0; i--) {
      const bucket = this.buckets.get(this.order[i] as number);
      if (bucket === undefined) continue;
      for (const item of bucket.items) {
        if (!item.queued) continue;
        item.queued = false;
        all.push(item);
      }
    }
    this.buckets.clear();
    this.order.length = 0;
    this.size = 0;
    return all;
  }

  /** Distinct priorities holding live items (for tests of the memory bound). */
  get priorityCount(): number {
    return this.order.length;
  }

  private top(): Bucket<T> | undefined {
    const priority = this.order[this.order.length - 1];
    return priority === undefined ? undefined : this.buckets.get(priority);
  }

  /** The first live item of a bucket, dropping removed ones in front of it. */
  private head(bucket: Bucket<T>): T | undefined {
    for (let item = bucket.items.peek(); item !== undefined; item = bucket.items.peek()) {
      if (item.queued) return item;
      bucket.items.shift();
    }
    return undefined;
  }

  private bucket(priority: number): Bucket<T> {
    let bucket = this.buckets.get(priority);
    if (bucket === undefined) {
      bucket = { priority, items: new RingQueue<T>(), live: 0 };
      this.buckets.set(priority, bucket);
      const order = this.order;
      // Most pools use one priority, or push increasing ones: check the end first.
      const last = order[order.length - 1];
      if (last === undefined || last < priority) order.push(priority);
      else order.splice(lowerBound(order, priority), 0, priority);
    }
    return bucket;
  }

  private free(bucket: Bucket<T>): void {
    this.buckets.delete(bucket.priority);
    const order = this.order;
    if (order[order.length - 1] === bucket.priority) order.pop();
    else {
      const index = lowerBound(order, bucket.priority);
      if (order[index] === bucket.priority) order.splice(index, 1);
    }
  }
}

/** Index of the first element of the ascending `sorted` that is >= `value`. */
function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((sorted[mid] as number) < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
