import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Observable } from 'rxjs';
import { OFFTHREAD_MODULE_OPTIONS } from './off-thread.constants.js';
import type { ResolvedModuleOptions } from './off-thread.options.js';
import {
  poolErrorMeaning,
  toGraphQLError,
  toHttpException,
  toRpcException,
  toWsException,
} from './pool-errors.js';
import { sharedState } from './protocol.js';

export { toHttpException } from './pool-errors.js';

interface Closable {
  writableFinished?: boolean;
  once(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
}

interface HttpResponseLike extends Closable {
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
  headersSent?: boolean;
  raw?: HttpResponseLike;
}

/**
 * Registered globally by `OffThreadModule`. For each request, event or message it:
 * - gives its `@OffThread()` calls an AbortSignal that fires when the client goes away before
 *   the answer is sent (HTTP response closed, WebSocket closed or disconnected;
 *   `abortOnDisconnect`);
 * - answers pool errors in the context's own terms (`httpErrors`): HTTP exceptions with
 *   `Retry-After` on 503s, `RpcException`s, `WsException`s, GraphQL errors with
 *   `extensions.code`. The table is {@link poolErrorMeaning}'s.
 */
@Injectable()
export class OffThreadInterceptor implements NestInterceptor {
  constructor(@Inject(OFFTHREAD_MODULE_OPTIONS) private readonly options: ResolvedModuleOptions) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const { abortOnDisconnect, httpErrors, retryAfter } = this.options;
    const type = context.getType<string>();
    let closable: Closable | undefined;
    let closeEvents: string[] = [];
    let reply: HttpResponseLike | undefined;
    if (type === 'http') {
      reply = context.switchToHttp().getResponse<HttpResponseLike>();
      // Fastify hands out its reply; the Node response underneath is what closes.
      closable = reply.raw ?? reply;
      closeEvents = ['close'];
    } else if (type === 'ws') {
      const client = context.switchToWs().getClient<Partial<Closable>>();
      if (typeof client?.once === 'function' && typeof client.removeListener === 'function') {
        closable = client as Closable;
        // ws closes, socket.io disconnects.
        closeEvents = ['close', 'disconnect'];
      }
    }
    const map = (error: unknown, signal: AbortSignal): unknown => {
      if (!httpErrors) return error;
      switch (type) {
        case 'http': {
          const mapped = toHttpException(error, signal);
          const raw = reply?.raw ?? reply;
          if (
            mapped !== error &&
            poolErrorMeaning(error, signal)?.retry &&
            reply &&
            !raw?.headersSent
          ) {
            setHeader(reply, 'Retry-After', String(retryAfter));
          }
          return mapped;
        }
        case 'rpc':
          return toRpcException(error, retryAfter, signal);
        case 'ws':
          return toWsException(error, retryAfter, signal);
        case 'graphql':
          return toGraphQLError(error, retryAfter, signal);
        default:
          return error;
      }
    };
    const watch = abortOnDisconnect && closable !== undefined;
    const { requestQueueTimeout } = this.options;
    return new Observable((subscriber) => {
      const controller = new AbortController();
      const onClose = () => {
        if (!closable?.writableFinished)
          controller.abort(new Error(`The ${type === 'http' ? 'HTTP' : type} client disconnected`));
      };
      if (watch) for (const event of closeEvents) closable!.once(event, onClose);
      const run = () =>
        next.handle().subscribe({
          next: (value) => subscriber.next(value),
          complete: () => subscriber.complete(),
          error: (error: unknown) => subscriber.error(map(error, controller.signal)),
        });
      // Calls made for this request get its abort signal and the queue-wait bound of requests.
      const subscription = sharedState().request.run(
        { signal: watch ? controller.signal : undefined, queueTimeout: requestQueueTimeout },
        run,
      );
      return () => {
        if (watch) for (const event of closeEvents) closable!.removeListener(event, onClose);
        subscription.unsubscribe();
      };
    });
  }
}

function setHeader(reply: HttpResponseLike, name: string, value: string): void {
  if (typeof reply.header === 'function') reply.header(name, value);
  else reply.setHeader?.(name, value);
}
