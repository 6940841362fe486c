import { createServer } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type * as Contexts from '../fixtures/contexts/contexts.js';
import { waitFor } from '../support/http.js';
import { fixture, stagedPackage } from '../support/stage.js';

const { startMicroservice, startGatewayApp } = fixture<typeof Contexts>('contexts/contexts.js');
// Nest 12's filter sends errors through emitMessage(), which knows raw `ws` sockets.
const wsFilterSends =
  typeof stagedPackage<{ BaseWsExceptionFilter: { prototype: Record<string, unknown> } }>(
    '@nestjs/websockets',
  ).BaseWsExceptionFilter.prototype.emitMessage === 'function';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('pool errors in non-HTTP contexts follow the same table', () => {
  it('a microservice (TCP transport) answers a timed-out call with an RpcException the client receives', async () => {
    const { client, close } = await startMicroservice(await freePort());
    try {
      expect(await firstValueFrom(client.send('spin', 1))).toBe(1);
      const error = await firstValueFrom(client.send('spin', 3000)).catch((e: unknown) => e);
      expect(error).toMatchObject({
        status: 'error',
        statusCode: 503,
        code: 'ERR_OFFTHREAD_TIMEOUT',
        retryAfter: 2,
      });
    } finally {
      await close();
    }
  });

  // Nest 11's BaseWsExceptionFilter hands errors to client.emit(), which a raw `ws` socket
  // (platform-ws) does not send: no error of any kind reaches the client there. Nest 12 sends them.
  it.skipIf(!wsFilterSends)(
    'a WebSocket gateway answers a timed-out call with a WsException the client gets as `exception`',
    async () => {
      const { app, url } = await startGatewayApp();
      const socket = new WebSocket(url);
      try {
        await new Promise((resolve, reject) => {
          socket.once('open', resolve);
          socket.once('error', reject);
        });
        const answer = new Promise<{ event: string; data: unknown }>((resolve) => {
          socket.on('message', (raw) => resolve(JSON.parse(String(raw))));
        });
        socket.send(JSON.stringify({ event: 'spin', data: 3000 }));
        const message = await answer;
        expect(message.event).toBe('exception');
        expect(message.data).toMatchObject({
          status: 'error',
          statusCode: 503,
          code: 'ERR_OFFTHREAD_TIMEOUT',
          retryAfter: 2,
        });
      } finally {
        socket.close();
        await app.close();
      }
    },
  );
});

// Nest 11 runs gateway handlers in the async context captured before interceptors run, so the
// interceptor's per-event scope (and its abort signal) does not reach the call there.
describe.skipIf(!wsFilterSends)('a WebSocket client that disconnects aborts its calls', () => {
  it('the running call sees its signal abort and stops; its thread is kept', async () => {
    const { app, url } = await startGatewayApp();
    const pool = app.get<{ stats(): { running: number; failed: number; threadsReplaced: number } }>(
      'offthread:pool',
    );
    const socket = new WebSocket(url);
    try {
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      socket.send(JSON.stringify({ event: 'slices', data: 10_000 }));
      await waitFor(() => pool.stats().running === 1, 'the call to run');
      socket.terminate();
      // The task checks its signal every 5 ms: it stops long before its 10 s are up.
      await waitFor(() => pool.stats().running === 0, 'the call to stop', 5000);
      expect(pool.stats().failed).toBe(1);
      expect(pool.stats().threadsReplaced).toBe(0);
    } finally {
      socket.terminate();
      await app.close();
    }
  });
});
