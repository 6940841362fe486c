/**
 * Preloaded into the app by `offthread doctor|watch` through NODE_OPTIONS (`--import`). It
 * starts a monitor on the main thread and appends newline-delimited JSON records to the file
 * named by OFFTHREAD_DIAG_OUT. A file, not stdout or an IPC channel: the app's stdio and
 * `process.send` stay untouched, and synchronous appends survive `process.exit()` and crashes.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import { isMainThread } from 'node:worker_threads';
import { createMonitor } from './monitor.js';
import type { MonitorOptions } from './options.js';

export const OUT_ENV = 'OFFTHREAD_DIAG_OUT';
export const OPTIONS_ENV = 'OFFTHREAD_DIAG_OPTIONS';
/** Where to write the run's CPU profile (`--cpuprofile`, and the HTML flame graph). */
export const CPUPROFILE_ENV = 'OFFTHREAD_DIAG_CPUPROFILE';

/**
 * Package managers and launchers that run the app as a child (`npm start`, `npx`, `pnpm run`,
 * `yarn`): they are Node processes too, but the app is the one to watch, so they do not claim.
 */
const LAUNCHER =
  /(?:^|[\\/])(?:npm|npx|pnpm|pnpx|yarn|yarnpkg|corepack|npm-cli\.js|npx-cli\.js|pnpm\.c?js|yarn\.c?js)$/;

function setup(): void {
  const out = process.env[OUT_ENV];
  // Worker threads (e.g. an @offthread/core pool) share the process: only the main thread reports.
  if (!isMainThread || !out) return;
  if (LAUNCHER.test(process.argv[1] ?? '')) return;
  let fd: number;
  try {
    // 'wx' fails if the file exists, so only the first Node process of the command reports.
    fd = openSync(out, 'wx');
  } catch {
    return;
  }
  // Child processes of the app must not report too: hide the variables from them.
  const options = JSON.parse(process.env[OPTIONS_ENV] || '{}') as MonitorOptions;
  const cpuprofile = process.env[CPUPROFILE_ENV];
  if (cpuprofile) options.keepProfile = true;
  delete process.env[OUT_ENV];
  delete process.env[OPTIONS_ENV];
  delete process.env[CPUPROFILE_ENV];
  let open = true;
  const write = (record: object) => {
    if (!open) return;
    try {
      writeSync(fd, `${JSON.stringify(record)}\n`);
    } catch {
      open = false;
    }
  };
  const monitor = createMonitor(options);
  write({
    type: 'hello',
    pid: process.pid,
    node: process.version,
    argv: process.argv,
    time: Date.now(),
    options: monitor.options,
  });
  monitor.on('block', (block) => write({ type: 'block', block }));
  monitor.on('sample', (sample) => {
    const snap = monitor.snapshot();
    write({ type: 'sample', sample, sinceStart: snap.sinceStart, profile: snap.profile });
  });

  // Tell the CLI when the app listens on TCP, so it can start the load generator.
  const proto = net.Server.prototype as unknown as { listen: (...a: unknown[]) => net.Server };
  const listen = proto.listen;
  proto.listen = function (this: net.Server, ...args: unknown[]): net.Server {
    this.once('listening', () => {
      const a = this.address();
      if (a && typeof a === 'object') {
        write({ type: 'listening', port: a.port, address: a.address, family: a.family });
      }
    });
    return listen.apply(this, args);
  };

  let finished = false;
  const finish = (reason: string) => {
    if (finished) return;
    finished = true;
    monitor.stop();
    if (cpuprofile) {
      try {
        writeFileSync(cpuprofile, JSON.stringify(monitor.cpuProfile()));
      } catch {}
    }
    const snap = monitor.snapshot();
    write({ type: 'final', reason, snapshot: snap });
    open = false;
    try {
      closeSync(fd);
    } catch {}
  };
  process.once('exit', (code) => finish(`exit ${code}`));
  // A signal's default action skips 'exit' handlers: flush first, then let the signal act as
  // it would have (re-raise) unless the app has its own handler.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      finish(signal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
  monitor.start();
}

setup();
