import { createRequire } from 'node:module';
import {
  HttpException,
  InternalServerErrorException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { CLIENT_GONE, poolErrorResponse } from '@offthread/core/adapter';

/**
 * What a pool error means for whoever is waiting on the call: the one table of
 * `@offthread/core/adapter` (`poolErrorResponse`), the same in `@offthread/express`:
 * - the server could not do it now (queue full, queue wait exceeded, pool closing, task
 *   timeout): 503, retry later;
 * - the work failed on the server's side (thread crash, out of memory, module failure,
 *   uncloneable data, ...): 500, with a message that carries no file path or source;
 * - the client left (the call was aborted by the request's own signal): 499, nothing is sent.
 */
export interface PoolErrorMeaning {
  status: 499 | 500 | 503;
  /** The error's `ERR_OFFTHREAD_*` code. */
  code: string;
  /** Safe to show a client: no paths, no function source. */
  message: string;
  /** Send `Retry-After` with it. */
  retry: boolean;
}

/**
 * The meaning of `error` if it is a pool error, else undefined (the app's own errors).
 *
 * @param signal the request's own abort signal: an abort it caused means the client left
 */
export function poolErrorMeaning(
  error: unknown,
  signal?: AbortSignal,
): PoolErrorMeaning | undefined {
  const response = poolErrorResponse(error, signal);
  if (response === undefined) return undefined;
  if (response === CLIENT_GONE) {
    return {
      status: 499,
      code: 'ERR_OFFTHREAD_ABORTED',
      message: 'Client Closed Request',
      retry: false,
    };
  }
  return {
    status: response.status,
    code: response.code,
    message: response.message,
    retry: response.retryAfter,
  };
}

/**
 * Turn an offthread pool error into the HTTP exception Nest should answer with (see
 * {@link poolErrorMeaning}): 503 `ServiceUnavailableException` for queue full, queue wait
 * exceeded, pool closing and timeout; 500 `InternalServerErrorException` (no paths or source in
 * the body; the pool error is its `cause`) for crashes, out of memory, module failures and
 * uncloneable data; 499 for a call aborted by `signal` (the client left). Anything else is
 * returned unchanged.
 */
export function toHttpException(error: unknown, signal?: AbortSignal): unknown {
  const meaning = poolErrorMeaning(error, signal);
  if (!meaning) return error;
  if (meaning.status === 503) {
    return new ServiceUnavailableException(
      {
        statusCode: 503,
        message: meaning.message,
        error: 'Service Unavailable',
        code: meaning.code,
      },
      { cause: error },
    );
  }
  if (meaning.status === 500) {
    return new InternalServerErrorException(
      {
        statusCode: 500,
        message: meaning.message,
        error: 'Internal Server Error',
        code: meaning.code,
      },
      { cause: error },
    );
  }
  return new HttpException('Client Closed Request', 499, { cause: error });
}

type ExceptionClass = new (error: string | object) => Error;

const optionalPeers = new Map<string, ExceptionClass | null>();

/** An exception class of an optional Nest package, as the app resolves it; null if absent. */
function optionalClass(pkg: string, name: string): ExceptionClass | null {
  const key = `${pkg}#${name}`;
  let found = optionalPeers.get(key);
  if (found !== undefined) return found;
  found = null;
  // This package's peers first (the app's copy under every package manager), then the app's root.
  for (const from of [__filename, `${process.cwd()}/index.js`]) {
    try {
      const ns = createRequire(from)(pkg) as Record<string, unknown>;
      if (typeof ns[name] === 'function') {
        found = ns[name] as ExceptionClass;
        break;
      }
    } catch {}
  }
  optionalPeers.set(key, found);
  return found;
}

/** What RPC, WebSocket and GraphQL clients receive for a pool error. */
function errorPayload(meaning: PoolErrorMeaning, retryAfter: number) {
  return {
    status: 'error',
    statusCode: meaning.status,
    code: meaning.code,
    message: meaning.message,
    ...(meaning.retry ? { retryAfter } : {}),
  };
}

/**
 * A microservice handler's pool error as an `RpcException` whose error is
 * `{ status: 'error', statusCode, code, message, retryAfter? }`: the client receives that object.
 * Anything else is returned unchanged.
 */
export function toRpcException(error: unknown, retryAfter = 1, signal?: AbortSignal): unknown {
  const meaning = poolErrorMeaning(error, signal);
  const RpcException = meaning && optionalClass('@nestjs/microservices', 'RpcException');
  if (!meaning || !RpcException) return error;
  const mapped = new RpcException(errorPayload(meaning, retryAfter));
  (mapped as Error).cause = error;
  return mapped;
}

/**
 * A gateway handler's pool error as a `WsException` whose error is
 * `{ status: 'error', statusCode, code, message, retryAfter? }`: Nest's filter emits it as the
 * client's `exception` event. Anything else is returned unchanged.
 */
export function toWsException(error: unknown, retryAfter = 1, signal?: AbortSignal): unknown {
  const meaning = poolErrorMeaning(error, signal);
  const WsException = meaning && optionalClass('@nestjs/websockets', 'WsException');
  if (!meaning || !WsException) return error;
  const mapped = new WsException(errorPayload(meaning, retryAfter));
  (mapped as Error).cause = error;
  return mapped;
}

/**
 * A resolver's pool error as a GraphQL error with `extensions: { code, offthreadCode, statusCode,
 * retryAfter? }` (`code` is `SERVICE_UNAVAILABLE` or `INTERNAL_SERVER_ERROR`, as Apollo names
 * them); a `GraphQLError` when the app has `graphql`, else an Error carrying `extensions`, which
 * graphql-js copies. Anything else is returned unchanged.
 */
export function toGraphQLError(error: unknown, retryAfter = 1, signal?: AbortSignal): unknown {
  const meaning = poolErrorMeaning(error, signal);
  if (!meaning) return error;
  const extensions = {
    code: meaning.status === 503 ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR',
    offthreadCode: meaning.code,
    statusCode: meaning.status,
    ...(meaning.retry ? { retryAfter } : {}),
  };
  const GraphQLError = optionalClass('graphql', 'GraphQLError') as
    | (new (
        message: string,
        options: object,
      ) => Error)
    | null;
  if (GraphQLError) return new GraphQLError(meaning.message, { extensions });
  return Object.assign(new Error(meaning.message, { cause: error }), { extensions });
}
