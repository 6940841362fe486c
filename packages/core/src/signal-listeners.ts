/**
 * One 'abort' listener per AbortSignal, however many tasks share it: 10 000 tasks on one signal
 * add one listener (no MaxListenersExceededWarning), and the listener leaves with the last task.
 */
export class SignalListeners<T> {
  private readonly bySignal = new Map<AbortSignal, { tasks: Set<T>; listener: () => void }>();

  constructor(private readonly onAbort: (task: T) => void) {}

  add(signal: AbortSignal, task: T): void {
    let entry = this.bySignal.get(signal);
    if (entry === undefined) {
      const created = { tasks: new Set<T>(), listener: () => this.fire(signal) };
      signal.addEventListener('abort', created.listener, { once: true });
      this.bySignal.set(signal, created);
      entry = created;
    }
    entry.tasks.add(task);
  }

  delete(signal: AbortSignal, task: T): void {
    const entry = this.bySignal.get(signal);
    if (entry === undefined || !entry.tasks.delete(task) || entry.tasks.size > 0) return;
    signal.removeEventListener('abort', entry.listener);
    this.bySignal.delete(signal);
  }

  /** Signals listened to (for tests of the bound). */
  get size(): number {
    return this.bySignal.size;
  }

  private fire(signal: AbortSignal): void {
    const entry = this.bySignal.get(signal);
    if (entry === undefined) return;
    this.bySignal.delete(signal);
    for (const task of entry.tasks) this.onAbort(task);
  }
}
