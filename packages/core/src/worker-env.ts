import { existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Profilers such as Clinic.js preload a sampler through NODE_OPTIONS. Worker threads re-read
 * NODE_OPTIONS, so every pool thread would start its own sampler, and since threads share the
 * process id they all write into the main thread's sample file and corrupt it (Clinic's analysis
 * then fails with "Decoded message is not valid"). These samplers measure the process; they
 * belong on the main thread only, so pool threads get NODE_OPTIONS without them.
 */
const processWidePreloads = [/[\\/]@clinic[\\/]/];

/** Is this preload one of a profiler's? Bare names (`-r sampler.js`) are looked up in NODE_PATH, as Clinic does. */
function isProcessWidePreload(target: string, nodePath: string[]): boolean {
  if (processWidePreloads.some((p) => p.test(target))) return true;
  if (isAbsolute(target) || target.startsWith('.')) return false;
  return nodePath.some(
    (dir) => processWidePreloads.some((p) => p.test(`${dir}/`)) && existsSync(join(dir, target)),
  );
}

/** Split NODE_OPTIONS like Node does: on whitespace, with double quotes grouping. */
export function splitNodeOptions(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charAt(i);
    if (ch === '\\' && quoted && i + 1 < value.length) {
      current += value.charAt(++i);
    } else if (ch === '"') {
      quoted = !quoted;
      has = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (has || current) out.push(current);
      current = '';
      has = false;
    } else {
      current += ch;
      has = true;
    }
  }
  if (has || current) out.push(current);
  return out;
}

/** NODE_OPTIONS without process-wide profiler preloads, or undefined when nothing needs removing. */
export function stripProcessWidePreloads(
  nodeOptions: string | undefined,
  nodePathValue = '',
): string | undefined {
  if (!nodeOptions) return undefined;
  const nodePath = nodePathValue.split(delimiter).filter(Boolean);
  const mentionsProfiler = (text: string) => processWidePreloads.some((p) => p.test(text));
  if (!mentionsProfiler(nodeOptions) && !nodePath.some((dir) => mentionsProfiler(`${dir}/`)))
    return undefined;
  const args = splitNodeOptions(nodeOptions);
  let removed = false;
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const preload = /^(?:-r|--require|--import|--loader|--experimental-loader)(?:=(.*))?$/.exec(
      arg,
    );
    if (preload) {
      const target = preload[1] ?? args[i + 1] ?? '';
      const consumed = preload[1] === undefined ? 2 : 1;
      if (isProcessWidePreload(target, nodePath)) {
        i += consumed - 1;
        removed = true;
        continue;
      }
    }
    kept.push(arg);
  }
  if (!removed) return undefined;
  return joinNodeOptions(kept);
}

function joinNodeOptions(args: string[]): string {
  return args.map((a) => (/[\s"]/.test(a) ? `"${a.replace(/(["\\])/g, '\\$1')}"` : a)).join(' ');
}

/**
 * NODE_OPTIONS without `flag` (and its value, when given as the next word). A thread given its own
 * NODE_OPTIONS validates them, and rejects process-wide flags (e.g. Clinic's
 * `--trace-events-enabled`) that an inherited environment would carry silently.
 */
export function removeNodeOption(nodeOptions: string, flag: string): string {
  const args = splitNodeOptions(nodeOptions);
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === flag) {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('-')) i++;
      continue;
    }
    if (arg.startsWith(`${flag}=`)) continue;
    kept.push(arg);
  }
  return joinNodeOptions(kept);
}

/** The `env` to give a new pool thread. */
export function workerEnv(
  env: Record<string, string | undefined> | undefined,
): Record<string, string | undefined> | undefined {
  const source = env ?? process.env;
  const stripped = stripProcessWidePreloads(source.NODE_OPTIONS, source.NODE_PATH);
  if (stripped === undefined) return env;
  return { ...source, NODE_OPTIONS: stripped };
}
