import {
  type CallHandler,
  type ExecutionContext,
  GatewayTimeoutException,
  HttpException,
  Inject,
  Injectable,
  type NestInterceptor,
  ServiceUnavailableException,
} from '@nestjs/common';
import { isOffThreadError, OffThreadErrorCode } from '@offthread/core';
import { Observable } from 'rxjs';
import { OFFTHREAD_MODULE_OPTIONS } from './off-thread.constants.js';
import type { ResolvedModuleOptions } from './off-thread.options.js';
import { sharedState } from './protocol.js';

interface HttpResponseLike {
  writableFinished?: boolean;
  once(event: 'close', listener: () => void): unknown;
  removeListener(event: 'close', listener: () => void): unknown;
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
  headersSent?: boolean;
  raw?: HttpResponseLike;
}

/**
 * Turn an offthread pool error into the HTTP error Nest should answer with:
 * ERR_OFFTHREAD_QUEUE_FULL → 503 ServiceUnavailableException, ERR_OFFTHREAD_TIMEOUT → 504
 * GatewayTimeoutException, ERR_OFFTHREAD_ABORTED → 499 (the client is gone; nothing is sent).
 * Anything else is returned unchanged (and answered 500 by Nest's default filter).
 */
export function toHttpException(error: unknown): unknown {
  if (!isOffThreadError(error)) return error;
  switch (error.code) {
    case OffThreadErrorCode.QUEUE_FULL:
      return new ServiceUnavailableException(
        'Server busy: too much CPU-heavy work is queued. Retry later.',
        { cause: error },
      );
    case OffThreadErrorCode.TIMEOUT:
      return new GatewayTimeoutException(
        'The work for this request took too long and was stopped.',
        { cause: error },
      );
    case OffThreadErrorCode.ABORTED:
      return new HttpException('Client Closed Request', 499, { cause: error });
    default:
      return error;
  }
}

/**
 * Registered globally by `OffThreadModule`. For each HTTP request it:
 * - gives the request's `@OffThread()` calls an AbortSignal that fires when the client
 *   disconnects before the response is sent (`abortOnDisconnect`);
 * - answers pool errors with HTTP errors (`httpErrors`, see {@link toHttpException}), adding
 *   `Retry-After` to the 503 of a full queue.
 * Other contexts (RPC, WebSocket) pass through untouched.
 */
@Injectable()
export class OffThreadInterceptor implements NestInterceptor {
  constructor(@Inject(OFFTHREAD_MODULE_OPTIONS) private readonly options: ResolvedModuleOptions) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const { abortOnDisconnect, httpErrors, retryAfter } = this.options;
    const reply = context.switchToHttp().getResponse<HttpResponseLike>();
    // Fastify hands out its reply; the Node response underneath is what closes.
    const res = reply.raw ?? reply;
    return new Observable((subscriber) => {
      const controller = new AbortController();
      const onClose = () => {
        if (!res.writableFinished) controller.abort(new Error('The HTTP client disconnected'));
      };
      if (abortOnDisconnect) res.once('close', onClose);
      const run = () =>
        next.handle().subscribe({
          next: (value) => subscriber.next(value),
          complete: () => subscriber.complete(),
          error: (error: unknown) => {
            if (!httpErrors) return subscriber.error(error);
            const mapped = toHttpException(error);
            if (
              mapped instanceof ServiceUnavailableException &&
              mapped !== error &&
              !res.headersSent
            ) {
              setHeader(reply, 'Retry-After', String(retryAfter));
            }
            subscriber.error(mapped);
          },
        });
      const subscription = abortOnDisconnect
        ? sharedState().request.run({ signal: controller.signal }, run)
        : run();
      return () => {
        res.removeListener('close', onClose);
        subscription.unsubscribe();
      };
    });
  }
}

function setHeader(reply: HttpResponseLike, name: string, value: string): void {
  if (typeof reply.header === 'function') reply.header(name, value);
  else reply.setHeader?.(name, value);
}
