import type { IncomingHttpHeaders } from 'node:http';

/**
 * The plain, cloneable copy of an Express request that a handler module receives in its
 * thread. Everything is data (no streams, no socket), plus the `get()` header helper.
 */
export interface RequestSnapshot<Body = unknown, Locals = unknown> {
  /** `req.method`, e.g. `'POST'`. */
  method: string;
  /** `req.url`: the path and query relative to the router the middleware is mounted on. */
  url: string;
  /** `req.originalUrl`: the URL as the client sent it. */
  originalUrl: string;
  /** `req.baseUrl`: the path the router the route is on is mounted at (`''` at the app's root). */
  baseUrl: string;
  /** `req.path`. */
  path: string;
  /** `req.params` (route parameters; an array for Express 5 wildcards like `/*splat`). */
  params: Record<string, string | string[]>;
  /** `req.query`, as parsed by the app's query parser. */
  query: Record<string, unknown>;
  /** `req.headers` (lower-case names). See also {@link RequestSnapshot.get}. */
  headers: IncomingHttpHeaders;
  /**
   * `req.body` as left by the body parsers that ran before `offThread()`: an object for
   * `express.json()`/`urlencoded()`, a string for `express.text()`, a Buffer for `express.raw()`
   * (holding only the body's bytes), `undefined` when no parser ran.
   */
  body: Body;
  /** `req.ip` (honours the app's `trust proxy` setting). */
  ip: string | undefined;
  /** `req.ips`: the `X-Forwarded-For` addresses when `trust proxy` is set, else `[]`. */
  ips: string[];
  /** `req.protocol`: `'http'` or `'https'`. */
  protocol: string;
  /** `req.secure`: `protocol === 'https'`. */
  secure: boolean;
  /** `req.hostname`. */
  hostname: string | undefined;
  /** `req.cookies`, present only when cookie-parser ran before `offThread()`. */
  cookies?: Record<string, unknown>;
  /** `req.signedCookies`, present only when cookie-parser ran before `offThread()`. */
  signedCookies?: Record<string, unknown>;
  /** What the route's `locals` option chose to pass from `res.locals`; `undefined` by default. */
  locals: Locals;
  /**
   * A request header by name, case-insensitive, like `req.get()`: `Referer` and `Referrer` are
   * the same header; `set-cookie` is an array.
   */
  get(name: string): string | string[] | undefined;
}

/** What crosses to the thread: the snapshot without its helper (functions cannot be cloned). */
export type RequestData = Omit<RequestSnapshot, 'get'>;
