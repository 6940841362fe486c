import type { Request, Response } from 'express';
import type { RequestSnapshot } from './snapshot.js';

/** Picks what a handler sees of `res.locals`: a list of keys, or a function returning cloneable data. */
export type LocalsOption = readonly string[] | ((req: Request, res: Response) => unknown);

/** Copy what a handler needs from the request. Runs on the main thread for every request. */
export function snapshotRequest(
  req: Request,
  res: Response,
  locals: LocalsOption | undefined,
): RequestSnapshot {
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
