import type { IncomingHttpHeaders } from 'node:http';

/**
 * The plain, cloneable copy of an Express request that a handler module receives in its
 * thread. Everything is data: no methods, no streams, no socket.
 */
export interface RequestSnapshot<Body = unknown, Locals = unknown> {
  /** `req.method`, e.g. `'POST'`. */
  method: string;
  /** `req.url`: the path and query relative to the router the middleware is mounted on. */
  url: string;
  /** `req.originalUrl`: the URL as the client sent it. */
  originalUrl: string;
  /** `req.path`. */
  path: string;
  /** `req.params` (route parameters; an array for Express 5 wildcards like `/*splat`). */
  params: Record<string, string | string[]>;
  /** `req.query`, as parsed by the app's query parser. */
  query: Record<string, unknown>;
  /** `req.headers` (lower-case names). */
  headers: IncomingHttpHeaders;
  /**
   * `req.body` as left by the body parsers that ran before `offThread()`: an object for
   * `express.json()`/`urlencoded()`, a string for `express.text()`, a Buffer for `express.raw()`,
   * `undefined` when no parser ran.
   */
  body: Body;
  /** `req.ip` (honours the app's `trust proxy` setting). */
  ip: string | undefined;
  /** `req.protocol`: `'http'` or `'https'`. */
  protocol: string;
  /** `req.hostname`. */
  hostname: string | undefined;
  /** What the route's `locals` option chose to pass from `res.locals`; `undefined` by default. */
  locals: Locals;
}
