import { createRequire } from 'node:module';
import { DiagnosticsError, DiagnosticsErrorCode } from '../errors.js';
import type { LoadSummary } from '../report.js';

/** What `--load` asked for, parsed by autocannon's own argument parser. */
export interface LoadSpec {
  /** Path and query the load goes to on the app (host and port are always the app's). */
  path: string;
  /** Whether the arguments set a duration (`-d`); otherwise the caller picks one. */
  hasDuration: boolean;
  /** Options for autocannon(), without url. */
  options: Record<string, unknown>;
}

type Autocannon = ((
  opts: Record<string, unknown>,
  cb: (err: Error | null, result: any) => void,
) => { stop(): void }) & { parseArguments(argv: string[]): Record<string, any> | undefined };

const usage = (msg: string) =>
  new DiagnosticsError(
    DiagnosticsErrorCode.USAGE,
    `--load: ${msg}. Example: --load "-c 8 -d 5s /api"`,
  );

/**
 * autocannon is the load generator of `--load` only, so the library does not install it: it
 * is an optional peer, loaded here on first use.
 */
export function loadAutocannon(): Autocannon {
  const require = createRequire(import.meta.url);
  try {
    return require('autocannon') as Autocannon;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new DiagnosticsError(
      DiagnosticsErrorCode.PEER_MISSING,
      `--load drives HTTP load with autocannon, which is not installed. Install it next to @offthread/diagnostics (npm install -D autocannon), or with npx: npx -p @offthread/diagnostics -p autocannon offthread doctor --load "..." -- node app.js`,
    );
  }
}

/** Split a shell-like string, honouring single and double quotes. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** autocannon options that make sense against the app; others (workers, forever, ...) are refused. */
const PASSED = [
  'connections',
  'duration',
  'amount',
  'pipelining',
  'method',
  'headers',
  'body',
  'timeout',
  'connectionRate',
  'overallRate',
  'reconnectRate',
  'maxConnectionRequests',
  'maxOverallRequests',
  'idReplacement',
  'expectBody',
] as const;
const REFUSED = ['workers', 'forever', 'onPort', 'har', 'socketPath', 'json'];

/**
 * Parse `--load` with autocannon's own parser, so every autocannon flag means what its docs
 * say. The target is always the app on loopback: a path is kept, a URL's host is dropped.
 */
export function parseLoad(text: string, autocannon: Autocannon = loadAutocannon()): LoadSpec {
  const parts = splitArgs(text);
  const saved = { port: process.env.PORT, error: console.error, log: console.log };
  // Its parser resolves a bare path against PORT and prints its help (returning nothing) when
  // no URL is given: give it a placeholder port, and retry with "/" when there was no path.
  process.env.PORT = '1';
  const quiet = () => {};
  console.error = quiet;
  console.log = quiet;
  let argv: Record<string, any> | undefined;
  try {
    argv = autocannon.parseArguments(parts) ?? autocannon.parseArguments([...parts, '/']);
  } catch (err) {
    throw usage((err as Error).message);
  } finally {
    if (saved.port === undefined) delete process.env.PORT;
    else process.env.PORT = saved.port;
    console.error = saved.error;
    console.log = saved.log;
  }
  if (!argv) throw usage(`autocannon could not parse "${text}"`);
  for (const k of REFUSED) {
    if (argv[k]) throw usage(`--${k} is not supported here`);
  }
  const urls = Array.isArray(argv.url) ? argv.url : [argv.url];
  if (urls.length !== 1) throw usage('give one path');
  let path = '/';
  try {
    const u = new URL(String(urls[0]), 'http://127.0.0.1');
    path = u.pathname + u.search;
  } catch {
    throw usage(`not a path or URL: "${urls[0]}"`);
  }
  const options: Record<string, unknown> = {};
  for (const k of PASSED) if (argv[k] !== undefined) options[k] = argv[k];
  for (const k of ['connections', 'pipelining', 'amount', 'timeout'] as const) {
    if (options[k] !== undefined && !(Number(options[k]) > 0)) {
      throw usage(`--${k} needs a positive number, got "${options[k]}"`);
    }
  }
  const hasDuration = parts.some(
    (p) => p === '-d' || p === '--duration' || p.startsWith('--duration=') || /^-d\d/.test(p),
  );
  return { path, hasDuration, options };
}

export interface RunningLoad {
  done: Promise<LoadSummary>;
  stop(): void;
}

/** Drive load at 127.0.0.1 (or ::1) on `port` with autocannon, silently. */
export function startLoad(
  spec: LoadSpec,
  port: number,
  address: string,
  defaultDuration: number,
  autocannon: Autocannon = loadAutocannon(),
): RunningLoad {
  const host = address === '::1' ? '[::1]' : '127.0.0.1';
  const url = `http://${host}:${port}${spec.path}`;
  let instance: { stop(): void } | null = null;
  const opts: Record<string, unknown> = { ...spec.options, url };
  if (!spec.hasDuration) opts.duration = defaultDuration;
  const connections = Number(opts.connections ?? 10);
  const done = new Promise<LoadSummary>((resolve, reject) => {
    instance = autocannon(opts, (err, r) => {
      if (err) return reject(err);
      resolve({
        url,
        connections,
        duration: Math.round(r.duration * 10) / 10,
        requests: { average: r.requests.average, total: r.requests.total },
        latency: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
        errors: r.errors,
        timeouts: r.timeouts,
        non2xx: r.non2xx,
      });
    });
  });
  return {
    done,
    stop: () => instance?.stop(),
  };
}
