import type { RedisOptions } from 'ioredis';

/** Where Redis is: ioredis options (`{ host, port, password, tls, ... }`) or a `redis://` / `rediss://` URL. */
export type RedisConnection = RedisOptions | string;

/**
 * Reconnect quickly and keep trying: BullMQ's default waits up to 20 s between attempts, which
 * would keep a cluster idle long after Redis is back.
 */
function retryStrategy(times: number): number {
  return Math.min(100 * times, 1000);
}

/** An unreachable host fails a call within seconds, not ioredis's default 10 s. */
const connectTimeout = 3000;

/** Validate and normalise the `connection` option into ioredis options. */
export function redisOptions(value: unknown, what: string): RedisOptions {
  if (value === undefined) return { host: '127.0.0.1', port: 6379, retryStrategy, connectTimeout };
  if (typeof value === 'string') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new TypeError(
        `${what} must be a redis:// URL or ioredis options, got ${JSON.stringify(value)}`,
      );
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new TypeError(
        `${what} must be a redis:// or rediss:// URL, got ${JSON.stringify(value)}`,
      );
    }
    const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
    return {
      host: url.hostname || '127.0.0.1',
      port: url.port ? Number(url.port) : 6379,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
      retryStrategy,
      connectTimeout,
    };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(
      `${what} must be ioredis options like { host: '127.0.0.1', port: 6379 } or a redis:// URL`,
    );
  }
  return { retryStrategy, connectTimeout, ...(value as RedisOptions) };
}
