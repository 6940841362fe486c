import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiagnosticsError, DiagnosticsErrorCode } from '../errors.js';
import type { MonitorOptions } from '../options.js';
import type { Block, ProfileStats, Sample, Snapshot } from '../types.js';

/** Records the preload writes, one JSON object a line. */
export type PreloadRecord =
  | {
      type: 'hello';
      pid: number;
      node: string;
      argv: string[];
      time: number;
      options: Required<MonitorOptions>;
    }
  | { type: 'block'; block: Block }
  | { type: 'sample'; sample: Sample; sinceStart: Sample; profile: ProfileStats }
  | { type: 'listening'; port: number; address: string; family: string }
  | { type: 'final'; reason: string; snapshot: Snapshot };

export interface RunState {
  hello: Extract<PreloadRecord, { type: 'hello' }> | null;
  samples: Sample[];
  blocks: Block[];
  sinceStart: Sample | null;
  profile: ProfileStats | null;
  listening: { port: number; address: string } | null;
}

export interface ChildRunOptions {
  target: string[];
  monitor: MonitorOptions;
  /** Extra environment for the command (e.g. where the preload writes the CPU profile). */
  env?: Record<string, string>;
  /** stdio of the child's stdout: inherit (doctor) or pipe (watch). */
  stdout: 'inherit' | 'pipe';
  onRecord?: (record: PreloadRecord, state: RunState) => void;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last lines the command wrote to stderr. */
  stderrTail: string[];
}

/** Where the built preload lives, next to this file's bundle (dist/cli -> dist/preload.js). */
export function preloadUrl(): string {
  return new URL('../preload.js', import.meta.url).href;
}

/** Process groups exist on POSIX only; on Windows the child alone is signalled. */
const GROUPS = process.platform !== 'win32';

function withPreload(nodeOptions: string | undefined): string {
  const flag = `--import=${JSON.stringify(preloadUrl())}`;
  return nodeOptions ? `${nodeOptions} ${flag}` : flag;
}

/**
 * Runs the target command with the monitor preloaded and tails its record file. The caller
 * decides when to stop (`stop()`); `exited` resolves when the command is gone and every record
 * has been read.
 */
export class ChildRun {
  readonly state: RunState = {
    hello: null,
    samples: [],
    blocks: [],
    sinceStart: null,
    profile: null,
    listening: null,
  };
  readonly exited: Promise<ChildExit>;
  readonly startedAt = Date.now();
  private child: ChildProcess;
  private dir: string;
  private file: string;
  private offset = 0;
  private partial = '';
  private fd: number | null = null;
  private poll: NodeJS.Timeout;
  private stderrTail: string[] = [];
  private stopping = false;
  exitInfo: ChildExit | null = null;

  constructor(private readonly o: ChildRunOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'offthread-'));
    this.file = join(this.dir, 'records.ndjson');
    const [cmd, ...args] = o.target;
    this.child = spawn(cmd!, args, {
      stdio: ['inherit', o.stdout, 'pipe'],
      // Its own process group, so stopping reaches the whole tree: `npm start` runs a shell
      // that runs node, and signalling npm alone would leave the app running, orphaned.
      detached: GROUPS,
      env: {
        ...process.env,
        NODE_OPTIONS: withPreload(process.env.NODE_OPTIONS),
        OFFTHREAD_DIAG_OUT: this.file,
        OFFTHREAD_DIAG_OPTIONS: JSON.stringify(o.monitor),
        ...o.env,
      },
    });
    this.child.stderr!.setEncoding('utf8');
    let tailBuf = '';
    this.child.stderr!.on('data', (chunk: string) => {
      o.onStderr?.(chunk);
      tailBuf = (tailBuf + chunk).slice(-8192);
      this.stderrTail = tailBuf
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(-10);
    });
    if (this.child.stdout) {
      this.child.stdout.setEncoding('utf8');
      this.child.stdout.on('data', (chunk: string) => o.onStdout?.(chunk));
    }
    this.poll = setInterval(() => this.read(), 100);
    this.exited = new Promise<ChildExit>((resolve, reject) => {
      this.child.once('error', (err: NodeJS.ErrnoException) => {
        this.cleanup();
        reject(
          new DiagnosticsError(
            DiagnosticsErrorCode.SPAWN_FAILED,
            err.code === 'ENOENT'
              ? `could not start "${cmd}": command not found (ENOENT). Check the command after "--" and your PATH.`
              : `could not start "${cmd}": ${err.message}`,
            { cause: err },
          ),
        );
      });
      this.child.once('close', (code, signal) => {
        // The command is gone; whatever it started in its group (a server behind `npm start`)
        // goes with it rather than living on, orphaned, holding its port.
        if (GROUPS && this.child.pid !== undefined) {
          try {
            process.kill(-this.child.pid, 'SIGTERM');
          } catch {}
        }
        this.read();
        this.cleanup();
        this.exitInfo = { code, signal, stderrTail: this.stderrTail };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether we asked the command to stop (so its exit is expected). */
  get stopRequested(): boolean {
    return this.stopping;
  }

  private cleanup(): void {
    clearInterval(this.poll);
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Read new complete lines from the record file. */
  read(): void {
    if (this.fd === null) {
      try {
        this.fd = openSync(this.file, 'r');
      } catch {
        return;
      }
    }
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      const n = readSync(this.fd, buf, 0, buf.length, this.offset);
      if (n <= 0) break;
      this.offset += n;
      this.partial += buf.toString('utf8', 0, n);
    }
    const lines = this.partial.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      let rec: PreloadRecord;
      try {
        rec = JSON.parse(line) as PreloadRecord;
      } catch {
        continue;
      }
      this.apply(rec);
      this.o.onRecord?.(rec, this.state);
    }
  }

  private apply(rec: PreloadRecord): void {
    const s = this.state;
    switch (rec.type) {
      case 'hello':
        s.hello = rec;
        break;
      case 'block':
        s.blocks.push(rec.block);
        break;
      case 'sample':
        s.samples.push(rec.sample);
        s.sinceStart = rec.sinceStart;
        s.profile = rec.profile;
        break;
      case 'listening':
        if (!s.listening) s.listening = { port: rec.port, address: rec.address };
        break;
      case 'final': {
        s.sinceStart = rec.snapshot.sinceStart;
        s.profile = rec.snapshot.profile;
        const last = rec.snapshot.interval;
        if (last && !s.samples.some((x) => x.end === last.end)) s.samples.push(last);
        break;
      }
    }
  }

  /** Send `sig` to the command's process group (or to the command alone where none). */
  private signal(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (GROUPS && pid !== undefined) {
      try {
        process.kill(-pid, sig);
        return;
      } catch {}
    }
    try {
      this.child.kill(sig);
    } catch {}
  }

  /**
   * Ask the command to end: SIGINT (the preload flushes its data first), then SIGTERM after
   * `graceMs`, then SIGKILL.
   */
  async stop(graceMs = 5000): Promise<ChildExit> {
    if (this.exitInfo) return this.exitInfo;
    this.stopping = true;
    const steps: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
    for (const sig of steps) {
      if (this.exitInfo) break;
      this.signal(sig);
      const done = await Promise.race([
        this.exited.then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((r) =>
          setTimeout(() => r(false), sig === 'SIGINT' ? graceMs : 2000).unref(),
        ),
      ]);
      if (done) break;
    }
    return this.exited;
  }
}
