import type { Request, Response } from 'express';
import type { RequestData } from './snapshot.js';

/** Picks what a handler sees of `res.locals`: a list of keys, or a function returning cloneable data. */
export type LocalsOption = readonly string[] | ((req: Request, res: Response) => unknown);

/** Copy what a handler needs from the request. Runs on the main thread for every request. */
export function snapshotRequest(
  req: Request,
  res: Response,
  locals: LocalsOption | undefined,
): RequestData {
  let body = req.body as unknown;
  // Only the body's own bytes: a small Buffer is a view into Node's shared 8 KB pool, and
  // copying the view to a thread would copy (and disclose) the whole pool.
  if (Buffer.isBuffer(body)) body = new Uint8Array(body);
  // Express's getters recompute on every read (`secure` reads `protocol` again): read once.
  const protocol = req.protocol;
  const data: RequestData = {
    method: req.method,
    url: req.url,
    originalUrl: req.originalUrl,
    baseUrl: req.baseUrl,
    path: req.path,
    params: req.params,
    query: req.query as Record<string, unknown>,
    headers: req.headers,
    body,
    ip: req.ip,
    ips: req.ips,
    protocol,
    secure: protocol === 'https',
    hostname: req.hostname,
    locals: locals === undefined ? undefined : pickLocals(locals, req, res),
  };
  // Present only when cookie-parser ran, as on `req`.
  const cookies = (req as { cookies?: unknown }).cookies;
  if (cookies !== undefined) {
    data.cookies = cookies as Record<string, unknown>;
    data.signedCookies = (req as { signedCookies?: Record<string, unknown> }).signedCookies;
  }
  return data;
}

function pickLocals(option: LocalsOption, req: Request, res: Response): unknown {
  if (typeof option === 'function') return option(req, res);
  const out: Record<string, unknown> = {};
  for (const key of option) if (Object.hasOwn(res.locals, key)) out[key] = res.locals[key];
  return out;
}
