/**
 * Profilers such as Clinic.js preload a sampler through NODE_OPTIONS. Worker threads re-read
 * NODE_OPTIONS, so every pool thread would start its own sampler, and since threads share the
 * process id they all write into the main thread's sample file and corrupt it (Clinic's analysis
 * then fails with "Decoded message is not valid"). These samplers measure the process; they
 * belong on the main thread only, so pool threads get NODE_OPTIONS without them.
 */
const processWidePreloads = [/[\\/]@clinic[\\/]/];

/** Split NODE_OPTIONS like Node does: on whitespace, with double quotes grouping. */
export function splitNodeOptions(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\' && quoted && i + 1 < value.length) {
      current += value[++i];
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
export function stripProcessWidePreloads(nodeOptions: string | undefined): string | undefined {
  if (!nodeOptions || !processWidePreloads.some((p) => p.test(nodeOptions))) return undefined;
  const args = splitNodeOptions(nodeOptions);
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const preload = /^(?:-r|--require|--import|--loader|--experimental-loader)(?:=(.*))?$/.exec(
      arg,
    );
    if (preload) {
      const target = preload[1] ?? args[i + 1] ?? '';
      const consumed = preload[1] === undefined ? 2 : 1;
      if (processWidePreloads.some((p) => p.test(target))) {
        i += consumed - 1;
        continue;
      }
    }
    kept.push(arg);
  }
  return kept.map((a) => (/[\s"]/.test(a) ? `"${a.replace(/(["\\])/g, '\\$1')}"` : a)).join(' ');
}

/** The `env` to give a new pool thread. */
export function workerEnv(
  env: Record<string, string | undefined> | undefined,
): Record<string, string | undefined> | undefined {
  const source = env ?? process.env;
  const stripped = stripProcessWidePreloads(source.NODE_OPTIONS);
  if (stripped === undefined) return env;
  return { ...source, NODE_OPTIONS: stripped };
}
