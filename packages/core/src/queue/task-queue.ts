import { RingQueue } from './ring-queue.js';

/**
 * Queued tasks by priority (higher first), FIFO within one priority. Almost every app uses a
 * single priority, so the common case is one ring buffer and no sorting.
 */
export class TaskQueue<T extends { priority: number }> {
  private buckets = new Map<number, RingQueue<T>>();
  /** Priorities present, highest first. */
  private order: number[] = [];
  size = 0;

  push(task: T): void {
    this.bucket(task.priority).push(task);
    this.size++;
  }

  unshift(task: T): void {
    this.bucket(task.priority).unshift(task);
    this.size++;
  }

  peek(): T | undefined {
    for (const priority of this.order) {
      const item = this.buckets.get(priority)!.peek();
      if (item !== undefined) return item;
    }
    return undefined;
  }

  shift(): T | undefined {
    for (const priority of this.order) {
      const item = this.buckets.get(priority)!.shift();
      if (item !== undefined) {
        this.size--;
        return item;
      }
    }
    return undefined;
  }

  remove(task: T): boolean {
    const removed = this.buckets.get(task.priority)?.remove(task) ?? false;
    if (removed) this.size--;
    return removed;
  }

  drain(): T[] {
    const all: T[] = [];
    for (const priority of this.order)
      for (const item of this.buckets.get(priority)!) all.push(item);
    this.buckets.clear();
    this.order = [];
    this.size = 0;
    return all;
  }

  private bucket(priority: number): RingQueue<T> {
    let bucket = this.buckets.get(priority);
    if (!bucket) {
      bucket = new RingQueue<T>();
      this.buckets.set(priority, bucket);
      this.order.push(priority);
      this.order.sort((a, b) => b - a);
    }
    return bucket;
  }
}
