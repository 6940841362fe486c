import { parseArgs as parseNodeArgs } from 'node:util';
import { DiagnosticsError, DiagnosticsErrorCode } from '../errors.js';

export type FailOn = 'event-loop' | 'threadpool' | 'pool' | 'cpu' | 'gc';

export interface CliArgs {
  command: 'doctor' | 'watch' | 'help' | 'version';
  /** For `help`: the command whose help to print (null: the overview). */
  helpFor: 'doctor' | 'watch' | null;
  /** Run length limit, ms (null: until the command exits). */
  duration: number | null;
  load: string | null;
  /** Path, `-` for stdout, or null. */
  json: string | null;
  html: string | null;
  /** Where to write the run's `.cpuprofile` (doctor). */
  cpuprofile: string | null;
  failOn: FailOn[];
  listenTimeout: number;
  sampleInterval: number;
  blockThreshold: number;
  quiet: boolean;
  /** An earlier `--json` report to compare with (doctor). */
  baseline: string | null;
  /** Allowed relative increase before `--baseline` fails, e.g. 0.2. */
  baselineThreshold: number;
  target: string[];
}

/** How the docs run the CLI; every message points here so a copied command runs our package. */
export const INVOCATION = 'npx @offthread/diagnostics';

const usage = (msg: string, command?: string) =>
  new DiagnosticsError(
    DiagnosticsErrorCode.USAGE,
    `${msg}. Run \`${INVOCATION} ${command ? `${command} ` : ''}--help\` for usage.`,
  );

/**
 * Parse a duration flag. One rule for every duration flag: a plain number is milliseconds
 * (like Clinic's flags); `500ms`, `2s`, `1.5m` and `1h` name their unit.
 */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw usage(`${flag} must be a duration like 500 (ms), 500ms, 20s or 2m, got "${text}"`);
  }
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms']!;
  const ms = n * unit;
  if (ms <= 0) throw usage(`${flag} must be greater than 0`);
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw usage(`${flag} must be at most 365 days, got "${text}"`);
  }
  return ms;
}

/** Longest duration a flag accepts; longer timers are scheduled in steps (see `longTimeout`). */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000;

const FAIL_ON: Record<string, FailOn> = {
  'event-loop': 'event-loop',
  eventloop: 'event-loop',
  threadpool: 'threadpool',
  'thread-pool': 'threadpool',
  pool: 'pool',
  gc: 'gc',
  cpu: 'cpu',
  'cpu-bound': 'cpu',
};

const COMMON = {
  duration: { type: 'string', short: 'd' },
  'fail-on': { type: 'string' },
  'sample-interval': { type: 'string' },
  'block-threshold': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
const DOCTOR = {
  ...COMMON,
  load: { type: 'string' },
  json: { type: 'string' },
  html: { type: 'string' },
  cpuprofile: { type: 'string' },
  'listen-timeout': { type: 'string' },
  baseline: { type: 'string' },
  'baseline-threshold': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

/**
 * `--load "-c 8 /api"`: node:util.parseArgs refuses a value that starts with "-" (it could be
 * a forgotten value followed by a flag). Our string options always take the next word, so
 * join it: `--load=-c 8 /api`.
 */
function joinValues(argv: string[], options: Record<string, { type: string; short?: string }>) {
  const takesValue = new Set<string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (o.short) takesValue.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (takesValue.has(a) && next !== undefined) {
      out.push(
        `${a.startsWith('--') ? a : `--${Object.entries(options).find(([, o]) => `-${o.short}` === a)![0]}`}=${next}`,
      );
      i++;
    } else out.push(a);
  }
  return out;
}

/** Parse the CLI arguments (without `node` and the script). */
export function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = {
    command: 'help',
    helpFor: null,
    duration: null,
    load: null,
    json: null,
    html: null,
    cpuprofile: null,
    failOn: [],
    listenTimeout: 15_000,
    sampleInterval: 1000,
    blockThreshold: 50,
    quiet: false,
    baseline: null,
    baselineThreshold: 0.2,
    target: [],
  };
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  args.target = dash >= 0 ? argv.slice(dash + 1) : [];
  const first = own[0];
  if (first === undefined || first === '--help' || first === '-h') return args;
  if (first === 'help') {
    const what = own[1];
    if (what === 'doctor' || what === 'watch') args.helpFor = what;
    return args;
  }
  if (first === '--version' || first === '-v') return { ...args, command: 'version' };
  if (first !== 'doctor' && first !== 'watch') throw usage(`unknown command "${first}"`);
  const command = first;
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseNodeArgs({
      args: joinValues(own.slice(1), command === 'doctor' ? DOCTOR : COMMON),
      options: command === 'doctor' ? DOCTOR : COMMON,
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    // node:util's messages name the option; keep them, add where to look.
    const msg = (err as Error).message.replace(/\.?\s*To specify a positional argument.*$/s, '');
    throw usage(msg.replace(/\.$/, ''), command);
  }
  if (values.help) return { ...args, command: 'help', helpFor: command };
  if (positionals.length > 0) {
    throw usage(
      `unexpected "${positionals[0]}": put the command to run after "--", e.g. ${INVOCATION} ${command} -- node app.js`,
      command,
    );
  }
  args.command = command;
  const str = (k: string) => values[k] as string | undefined;
  if (str('duration') !== undefined) args.duration = parseDuration(str('duration')!, '--duration');
  if (str('listen-timeout') !== undefined) {
    args.listenTimeout = parseDuration(str('listen-timeout')!, '--listen-timeout');
  }
  if (str('sample-interval') !== undefined) {
    args.sampleInterval = parseDuration(str('sample-interval')!, '--sample-interval');
  }
  if (str('block-threshold') !== undefined) {
    args.blockThreshold = parseDuration(str('block-threshold')!, '--block-threshold');
  }
  args.load = str('load') ?? null;
  args.json = str('json') ?? null;
  args.html = str('html') ?? null;
  args.cpuprofile = str('cpuprofile') ?? null;
  if (args.html === '-') throw usage('--html needs a file name ("-" is only for --json)', command);
  args.quiet = Boolean(values.quiet);
  args.baseline = str('baseline') ?? null;
  if (str('baseline-threshold') !== undefined) {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(str('baseline-threshold')!.trim());
    if (!m) {
      throw usage(
        `--baseline-threshold must be a percentage like 20%, got "${str('baseline-threshold')}"`,
        command,
      );
    }
    args.baselineThreshold = Number(m[1]) / 100;
  }
  for (const part of (str('fail-on') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    if (part === 'any') args.failOn.push('event-loop', 'threadpool', 'pool', 'cpu', 'gc');
    else if (FAIL_ON[part]) args.failOn.push(FAIL_ON[part]);
    else
      throw usage(
        `--fail-on accepts event-loop, threadpool, pool, cpu, gc or any, got "${part}"`,
        command,
      );
  }
  if (args.target.length === 0) {
    throw usage(
      `missing the command to run: ${INVOCATION} ${command} [options] -- node app.js`,
      command,
    );
  }
  return args;
}

const DURATIONS = 'Durations: a plain number is milliseconds; or give a unit: 500ms, 20s, 2m, 1h.';

export const HELP = `offthread: find what blocks your Node.js event loop and thread pool.

Usage:
  ${INVOCATION} doctor [options] -- node app.js [args]
  ${INVOCATION} watch  [options] -- node app.js [args]
  ${INVOCATION} help <command>

Commands:
  doctor   run the app with the monitor preloaded (no code change), optionally drive HTTP
           load at it, and print a verdict when it ends: healthy, event-loop blocked,
           thread pool saturated or CPU-bound, with evidence and a fix
  watch    a live view of the same numbers, refreshed every second

Options:
  -h, --help      help (\`${INVOCATION} doctor --help\` for a command's options)
  -v, --version   print the version

Stop a run with Ctrl+C: the app is stopped and the report is printed.
Installed locally (npm install -D @offthread/diagnostics), the command is \`offthread\`.
`;

export const DOCTOR_HELP = `Usage: ${INVOCATION} doctor [options] -- <command> [args]

Runs <command> (node app.js, npm start, ...) with the monitor preloaded and prints a verdict
when the run ends: when the command exits, at --duration, when --load finishes, or on Ctrl+C.

Options:
  -d, --duration <t>       end the run after t (default: when the command exits)
  --load "<args>"          once the app listens, send HTTP load to 127.0.0.1:<port> with these
                           autocannon arguments, e.g. "-c 8 -d 5s /api"; the run ends with the
                           load (needs autocannon: npm install -D autocannon)
  --listen-timeout <t>     with --load: give up if the app has not listened after t (default 15s)
  --json <file>            write the full report as JSON ("-" writes it to stdout, and the text
                           report to stderr)
  --html <file>            write a self-contained HTML report with charts and flame graphs
  --cpuprofile <file>      write the main thread's CPU profile of the run (.cpuprofile: open
                           it in Chrome DevTools or speedscope)
  --fail-on <list>         exit 1 when any of event-loop, threadpool, pool, cpu, gc (or any) is
                           found
  --baseline <file>        compare with an earlier --json report; exit 1 when delay p99,
                           blocked time or CPU per request (with --load) grew past
                           --baseline-threshold (default 20%)
  --block-threshold <t>    a stall longer than this is a block (default 50ms)
  --sample-interval <t>    sampling period (default 1s)
  -q, --quiet              no progress output
  -h, --help               this help

${DURATIONS}
Stop with Ctrl+C (twice to stop waiting for the app).
Exit codes: 0 done, 1 a --fail-on category was found, 2 usage error,
3 the command failed to start, exited early with an error, or never listened.
`;

export const WATCH_HELP = `Usage: ${INVOCATION} watch [options] -- <command> [args]

Runs <command> with the monitor preloaded and redraws a live view every second.

Options:
  -d, --duration <t>       end after t (default: when the command exits, or Ctrl+C)
  --fail-on <list>         at the end, exit 1 when any of event-loop, threadpool, pool, cpu, gc (or any)
                           was found over the whole run
  --block-threshold <t>    a stall longer than this is a block (default 50ms)
  --sample-interval <t>    sampling period (default 1s)
  -h, --help               this help

${DURATIONS}
Stop with Ctrl+C.
`;
