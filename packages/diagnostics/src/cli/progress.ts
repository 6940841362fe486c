import type { Sample } from '../types.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Progress on stderr: a spinner line redrawn 4 times a second on a TTY; elsewhere (CI logs) a
 * plain line every 5 seconds, so logs stay readable.
 */
export class Progress {
  private timer: NodeJS.Timeout | null = null;
  private frame = 0;
  private lastPlain = 0;
  phase = 'starting';
  latest: Sample | null = null;
  private readonly tty: boolean;
  /** The spinner is on screen (so app output must clear it first). */
  private drawn = false;
  /** The app's last output did not end its line: drawing now would append to it. */
  private midLine = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly startedAt: number,
    private readonly durationMs: number | null,
    private readonly enabled: boolean,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  start(): void {
    if (!this.enabled) return;
    this.lastPlain = Date.now();
    this.timer = setInterval(() => this.tick(), this.tty ? 250 : 1000);
    this.timer.unref();
  }

  private line(): string {
    const elapsed = ((Date.now() - this.startedAt) / 1000).toFixed(0);
    const total = this.durationMs ? ` / ${(this.durationMs / 1000).toFixed(0)}s` : '';
    const s = this.latest;
    const nums = s
      ? ` · delay p99 ${s.eventLoop.delay.p99} ms · ELU ${Math.round(s.eventLoop.utilization * 100)}%${s.threadpool.enabled ? ` · pool queued ${s.threadpool.queued.total}` : ''}`
      : '';
    return `offthread: ${this.phase} · ${elapsed}s${total}${nums} · Ctrl+C to stop`;
  }

  private tick(): void {
    if (this.tty) {
      if (this.midLine) return;
      this.frame = (this.frame + 1) % FRAMES.length;
      this.stream.write(`\r\x1b[K${FRAMES[this.frame]} ${this.line()}`);
      this.drawn = true;
    } else if (Date.now() - this.lastPlain >= 5000) {
      this.lastPlain = Date.now();
      this.stream.write(`${this.line()}\n`);
    }
  }

  private clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  /**
   * Pass the app's output through: the spinner line is cleared first and redrawn on the next
   * tick, and is not drawn while the app's last line is unfinished, so the two never share a line.
   */
  passThrough(to: NodeJS.WritableStream, chunk: string): void {
    if (chunk === '') return;
    this.clear();
    to.write(chunk);
    this.midLine = !chunk.endsWith('\n');
  }

  /** Print a message on its own line (keeps the spinner intact). */
  note(text: string): void {
    if (!this.enabled) return;
    this.clear();
    if (this.midLine) this.stream.write('\n');
    this.midLine = false;
    this.stream.write(`offthread: ${text}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }
}
