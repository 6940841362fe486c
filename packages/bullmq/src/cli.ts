#!/usr/bin/env node
/**
 * `offthread-bullmq serve`: a worker process for a RemotePool queue. One per machine, sized to
 * its cores; it runs every job on a local offthread Pool.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from '@offthread/core';
import { serve } from './serve.js';

const usage = `Usage: offthread-bullmq serve --queue <name> --root <dir> [options]
       (or: npx @offthread/bullmq serve ...)

Run the tasks of a RemotePool queue on this machine, in a local offthread thread pool.

Options:
  --queue <name>        BullMQ queue name (required)
  --root <dir>          directory of the task modules; nothing outside it is loaded (required)
  --redis <url>         Redis URL (default redis://127.0.0.1:6379, or $REDIS_URL)
  --threads <n>         most threads of the local pool (default: the machine's cores)
  --concurrency <n>     jobs taken from Redis at once (default 2 x threads)
  --prefix <prefix>     BullMQ key prefix (default bull)
  --lock-duration <ms>  hold on a running job; a dead worker's tasks fail after about this (default 3000)
  --id <id>             this worker's id in stats (default <hostname>-<pid>)
  -h, --help            show this help
`;

function fail(message: string): never {
  process.stderr.write(`offthread-bullmq: ${message}\n\n${usage}`);
  process.exit(2);
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    fail(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        queue: { type: 'string' },
        root: { type: 'string' },
        redis: { type: 'string' },
        threads: { type: 'string' },
        concurrency: { type: 'string' },
        prefix: { type: 'string' },
        'lock-duration': { type: 'string' },
        id: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) {
    process.stdout.write(usage);
    return;
  }
  if (parsed.positionals[0] !== 'serve') fail('expected the command `serve`');
  if (typeof v.queue !== 'string') fail('--queue is required');
  if (typeof v.root !== 'string') fail('--root is required');
  const threads = int(v.threads as string | undefined, '--threads');
  const pool = new Pool({
    name: `bullmq:${v.queue}`,
    // A worker machine exists to run tasks: keep all its threads warm.
    ...(threads ? { maxThreads: threads, minThreads: threads } : {}),
  });
  const server = await serve({
    queue: v.queue,
    root: resolve(v.root),
    pool,
    connection: (v.redis as string | undefined) ?? process.env.REDIS_URL,
    prefix: v.prefix as string | undefined,
    concurrency: int(v.concurrency as string | undefined, '--concurrency'),
    lockDuration: int(v['lock-duration'] as string | undefined, '--lock-duration'),
    id: v.id as string | undefined,
  });
  process.stdout.write(
    `offthread-bullmq: worker ${server.id} serving queue '${v.queue}' from ${resolve(v.root)} with up to ${pool.options.maxThreads} threads\n`,
  );
  const stop = async () => {
    process.stdout.write(`offthread-bullmq: worker ${server.id} stopping\n`);
    await server.close();
    await pool.close({ timeout: 10_000 });
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error) => {
  process.stderr.write(`offthread-bullmq: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
