import type { IncomingHttpHeaders } from 'node:http';
import type { Request, Response } from 'express';

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

/** Picks what a handler sees of `res.locals`: a list of keys, or a function returning cloneable data. */
export type LocalsOption = readonly string[] | ((req: Request, res: Response) => unknown);

/** Copy what a handler needs from the request. Runs on the main thread for every request. */
export function snapshotRequest(req: Request, res: Response, locals: LocalsOption | undefined): RequestSnapshot {
  let body = req.body as unknown;
  // A Buffer arrives in the thread as a plain Uint8Array; the dispatcher turns it back into a Buffer.
  if (Buffer.isBuffer(body)) body = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return {
    method: req.method,
    url: req.url,
    originalUrl: req.originalUrl,
    path: req.path,
    params: req.params,
    query: req.query as Record<string, unknown>,
    headers: req.headers,
    body,
    ip: req.ip,
    protocol: req.protocol,
    hostname: req.hostname,
    locals: locals === undefined ? undefined : pickLocals(locals, req, res),
  };
}

function pickLocals(option: LocalsOption, req: Request, res: Response): unknown {
  if (typeof option === 'function') return option(req, res);
  const out: Record<string, unknown> = {};
  for (const key of option) if (key in res.locals) out[key] = res.locals[key];
  return out;
}
