import { DiagnosticsError, DiagnosticsErrorCode } from '../errors.js';

export type FailOn = 'event-loop' | 'threadpool' | 'cpu';

export interface CliArgs {
  command: 'doctor' | 'watch' | 'help' | 'version';
  /** Run length limit, ms (null: until the command exits). */
  duration: number | null;
  load: string | null;
  json: string | null;
  html: string | null;
  failOn: FailOn[];
  listenTimeout: number;
  sampleInterval: number;
  blockThreshold: number;
  quiet: boolean;
  target: string[];
}

const usage = (msg: string) =>
  new DiagnosticsError(DiagnosticsErrorCode.USAGE, `${msg}. Run \`offthread --help\` for usage.`);

/** Parse `20s`, `500ms`, `2m`, or a plain number of seconds, into ms. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw usage(`${flag} must be a duration like 20s, 500ms or 2m, got "${text}"`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms <= 0) throw usage(`${flag} must be greater than 0`);
  return ms;
}

const FAIL_ON: Record<string, FailOn> = {
  'event-loop': 'event-loop',
  eventloop: 'event-loop',
  threadpool: 'threadpool',
  'thread-pool': 'threadpool',
  cpu: 'cpu',
  'cpu-bound': 'cpu',
};

/** Parse the CLI arguments (without `node` and the script). */
export function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = {
    command: 'help',
    duration: null,
    load: null,
    json: null,
    html: null,
    failOn: [],
    listenTimeout: 15_000,
    sampleInterval: 1000,
    blockThreshold: 50,
    quiet: false,
    target: [],
  };
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  args.target = dash >= 0 ? argv.slice(dash + 1) : [];
  const first = own[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return args;
  if (first === '--version' || first === '-v') return { ...args, command: 'version' };
  if (first !== 'doctor' && first !== 'watch') throw usage(`unknown command "${first}"`);
  args.command = first;
  for (let i = 1; i < own.length; i++) {
    const a = own[i]!;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      const v = own[++i];
      if (v === undefined) throw usage(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        return { ...args, command: 'help' };
      case '--duration':
      case '-d':
        args.duration = parseDuration(value(), '--duration');
        break;
      case '--load':
        args.load = value();
        break;
      case '--json':
        args.json = value();
        break;
      case '--html':
        args.html = value();
        break;
      case '--fail-on':
        for (const part of value()
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean)) {
          if (part === 'any') args.failOn.push('event-loop', 'threadpool', 'cpu');
          else if (FAIL_ON[part]) args.failOn.push(FAIL_ON[part]);
          else throw usage(`--fail-on accepts event-loop, threadpool, cpu or any, got "${part}"`);
        }
        break;
      case '--listen-timeout':
        args.listenTimeout = parseDuration(value(), '--listen-timeout');
        break;
      case '--sample-interval':
        args.sampleInterval = parseDuration(value(), '--sample-interval');
        break;
      case '--block-threshold':
        args.blockThreshold = parseDuration(
          value().replace(/^(\d+(?:\.\d+)?)$/, '$1ms'),
          '--block-threshold',
        );
        break;
      case '--quiet':
      case '-q':
        args.quiet = true;
        break;
      default:
        throw usage(`unknown option "${a}"`);
    }
  }
  if (args.target.length === 0) {
    throw usage(`missing the command to run: offthread ${args.command} [options] -- node app.js`);
  }
  return args;
}

export const HELP = `offthread: find what blocks your Node.js event loop and thread pool.

Usage:
  offthread doctor [options] -- node app.js [args]
  offthread watch  [options] -- node app.js [args]

doctor runs the command with the monitor preloaded (no code change), optionally drives HTTP
load at it, and prints a verdict when it ends: healthy, event-loop blocked, thread pool
saturated or CPU-bound, with evidence and a recommendation.
watch shows a live view of the same numbers, refreshed every second.

Options:
  --duration <t>         end the run after t (20s, 500ms, 2m); default: when the command exits
  --load "<args>"        once the app listens, run autocannon against 127.0.0.1:<port> with
                         these arguments, e.g. "-c 8 -d 5 /api"; the run ends with the load
  --listen-timeout <t>   with --load: give up if the app has not listened after t (default 15s)
  --json <file>          write the full report as JSON
  --html <file>          write a self-contained HTML report with charts
  --fail-on <list>       exit 1 when any of: event-loop, threadpool, cpu (or any) is found
  --block-threshold <ms> a stall longer than this is a block (default 50)
  --sample-interval <t>  sampling period (default 1s)
  -q, --quiet            no progress output
  -h, --help             this help
  -v, --version          print the version

Exit codes: 0 done, 1 a --fail-on category was found, 2 usage error,
3 the command failed to start, exited early with an error, or never listened.
`;
