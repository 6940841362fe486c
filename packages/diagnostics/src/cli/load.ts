import autocannon from 'autocannon';
import { DiagnosticsError, DiagnosticsErrorCode } from '../errors.js';
import type { LoadSummary } from '../report.js';

export interface LoadSpec {
  path: string;
  connections: number;
  /** Seconds, or null to use the caller's default. */
  duration: number | null;
  amount: number | null;
  pipelining: number;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  timeout: number;
}

const usage = (msg: string) =>
  new DiagnosticsError(
    DiagnosticsErrorCode.USAGE,
    `--load: ${msg}. Example: --load "-c 8 -d 5 /api"`,
  );

/** Split a shell-like string, honouring single and double quotes. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** Parse the autocannon options `--load` accepts: -c -d -a -p -m -H -b -t and a path. */
export function parseLoad(text: string): LoadSpec {
  const spec: LoadSpec = {
    path: '/',
    connections: 10,
    duration: null,
    amount: null,
    pipelining: 1,
    method: 'GET',
    headers: {},
    body: undefined,
    timeout: 10,
  };
  const parts = splitArgs(text);
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v?.replace(/s$/, ''));
    if (v === undefined || !Number.isFinite(n) || n <= 0)
      throw usage(`${flag} needs a positive number`);
    return n;
  };
  for (let i = 0; i < parts.length; i++) {
    const a = parts[i]!;
    switch (a) {
      case '-c':
      case '--connections':
        spec.connections = Math.round(num(a, parts[++i]));
        break;
      case '-d':
      case '--duration':
        spec.duration = num(a, parts[++i]);
        break;
      case '-a':
      case '--amount':
        spec.amount = Math.round(num(a, parts[++i]));
        break;
      case '-p':
      case '--pipelining':
        spec.pipelining = Math.round(num(a, parts[++i]));
        break;
      case '-t':
      case '--timeout':
        spec.timeout = num(a, parts[++i]);
        break;
      case '-m':
      case '--method': {
        const v = parts[++i];
        if (!v) throw usage(`${a} needs a method`);
        spec.method = v.toUpperCase();
        break;
      }
      case '-H':
      case '--headers': {
        const v = parts[++i] ?? '';
        const c = v.indexOf(':');
        if (c <= 0) throw usage(`${a} needs "name: value"`);
        spec.headers[v.slice(0, c).trim()] = v.slice(c + 1).trim();
        break;
      }
      case '-b':
      case '--body':
        spec.body = parts[++i];
        break;
      default:
        if (a.startsWith('-')) throw usage(`unsupported option "${a}"`);
        if (/^https?:\/\//.test(a)) {
          // Load only ever goes to the app on loopback: keep the path, drop the host.
          const u = new URL(a);
          spec.path = u.pathname + u.search;
        } else {
          spec.path = a.startsWith('/') ? a : `/${a}`;
        }
    }
  }
  return spec;
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
): RunningLoad {
  const host = address === '::1' ? '[::1]' : '127.0.0.1';
  const url = `http://${host}:${port}${spec.path}`;
  const duration = spec.duration ?? defaultDuration;
  let instance: { stop(): void } | null = null;
  const done = new Promise<LoadSummary>((resolve, reject) => {
    instance = autocannon(
      {
        url,
        connections: spec.connections,
        duration,
        ...(spec.amount ? { amount: spec.amount } : {}),
        pipelining: spec.pipelining,
        method: spec.method as 'GET',
        headers: spec.headers,
        ...(spec.body !== undefined ? { body: spec.body } : {}),
        timeout: spec.timeout,
      },
      (err, r) => {
        if (err) return reject(err);
        resolve({
          url,
          connections: spec.connections,
          duration: Math.round(r.duration * 10) / 10,
          requests: { average: r.requests.average, total: r.requests.total },
          latency: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
          errors: r.errors,
          timeouts: r.timeouts,
          non2xx: r.non2xx,
        });
      },
    );
  });
  return {
    done,
    stop: () => instance?.stop(),
  };
}
