import type { ResourceLimits } from 'node:worker_threads';

/** Where a pool runs its tasks: worker threads (the default) or child processes. */
export type PoolRuntime = 'thread' | 'process';

/**
 * Read `options.runtime`. @throws {TypeError} naming the option and the accepted values.
 * `describe` is options.ts's way of showing a bad value.
 */
export function readRuntime(value: unknown, describe: (value: unknown) => string): PoolRuntime {
  if (value === undefined || value === 'thread') return 'thread';
  if (value === 'process') return 'process';
  throw new TypeError(
    `options.runtime must be 'thread' (worker threads, the default) or 'process' (child processes, for task code that may crash its process), got ${describe(value)}`,
  );
}

/**
 * resourceLimits a child process cannot honour. A process's V8 heap is sized by CLI flags
 * (see {@link resourceLimitFlags}); there is no flag for the code range, and V8's --stack-size
 * past the stack the OS gives the main thread crashes the process instead of throwing
 * RangeError, so neither is silently approximated.
 * @throws {TypeError} naming the field and what to do instead.
 */
export function checkProcessResourceLimits(limits: ResourceLimits | undefined): void {
  if (limits === undefined) return;
  for (const key of ['codeRangeSizeMb', 'stackSizeMb'] as const) {
    if (limits[key] === undefined) continue;
    throw new TypeError(
      `options.resourceLimits.${key} is not supported with runtime: 'process' (a child process cannot be given it safely). Leave it out; only maxOldGenerationSizeMb and maxYoungGenerationSizeMb apply to processes (as --max-old-space-size and --max-semi-space-size).`,
    );
  }
}

/**
 * The node flags that give a child process the heap limits a thread gets from resourceLimits.
 * V8's young generation is three semi-spaces (two plus the new large-object space), so a young
 * generation of N MB is a semi-space of N/3 MB.
 */
export function resourceLimitFlags(limits: ResourceLimits | undefined): string[] {
  const flags: string[] = [];
  if (limits?.maxOldGenerationSizeMb !== undefined)
    flags.push(`--max-old-space-size=${Math.max(1, Math.ceil(limits.maxOldGenerationSizeMb))}`);
  if (limits?.maxYoungGenerationSizeMb !== undefined)
    flags.push(
      `--max-semi-space-size=${Math.max(1, Math.ceil(limits.maxYoungGenerationSizeMb / 3))}`,
    );
  return flags;
}
