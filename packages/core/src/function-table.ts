/**
 * The task functions a pool knows: one record per (task module, export name). Records are
 * found through nested Maps, so no name (an untrusted string) is ever joined into a key or
 * looked up on a prototype, and a record whose export turned out not to exist is dropped
 * again: a caller trying 40 000 wrong names leaves nothing behind.
 */

/** One task function, as the pool and its threads refer to it. */
export interface FunctionRecord {
  /** Its id on the wire (see protocol.ts Op.Register). */
  readonly id: number;
  readonly filename: string;
  readonly name: string;
  /**
   * Moving average of its run time (ms); -1 until one call has finished. It decides how far
   * ahead this function's tasks may be batched (see dispatcher.ts).
   */
  averageRunTime: number;
  /** False once dropped from the table. */
  live: boolean;
}

export class FunctionTable {
  private readonly byFile = new Map<string, Map<string, FunctionRecord>>();
  private nextId = 1;
  private count = 0;

  /** The record for `name` in `filename`, made on first use. */
  get(filename: string, name: string): FunctionRecord {
    let names = this.byFile.get(filename);
    if (names === undefined) {
      names = new Map();
      this.byFile.set(filename, names);
    }
    let record = names.get(name);
    if (record === undefined) {
      record = { id: this.nextId++, filename, name, averageRunTime: -1, live: true };
      names.set(name, record);
      this.count++;
    }
    return record;
  }

  /** Forget a record (its export does not exist); the next call with that name makes a new one. */
  delete(record: FunctionRecord): void {
    if (!record.live) return;
    record.live = false;
    const names = this.byFile.get(record.filename);
    if (names?.get(record.name) !== record) return;
    names.delete(record.name);
    this.count--;
    if (names.size === 0) this.byFile.delete(record.filename);
  }

  /** Records in the table. */
  get size(): number {
    return this.count;
  }
}
