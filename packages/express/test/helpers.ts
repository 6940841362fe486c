import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import express5 from 'express';
import express4 from 'express4';
import { request } from 'undici';

/** Every test file runs against both supported Express majors. */
export const expressVersions = [
  ['express 4', express4],
  ['express 5', express5],
] as const;

export type ExpressFactory = typeof express5;

export const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

export interface Running {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Start `app` on a random loopback port. */
export function listen(app: Express): Promise<Running> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1');
    server.once('error', reject);
    server.once('listening', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** GET/POST and read the whole body as text. */
export async function fetchText(url: string, init: Parameters<typeof request>[1] = {}) {
  const res = await request(url, init);
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

export async function fetchJson(url: string, init: Parameters<typeof request>[1] = {}) {
  const res = await fetchText(url, init);
  return { ...res, json: res.text ? JSON.parse(res.text) : undefined };
}

/** Collect messages fixtures post on the test BroadcastChannel, and wait for one. */
export function channelListener() {
  const channel = new BroadcastChannel('offthread-express-test');
  const messages: Record<string, unknown>[] = [];
  const waiters: {
    match: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }[] = [];
  channel.onmessage = (event) => {
    const message = (event as MessageEvent).data as Record<string, unknown>;
    messages.push(message);
    for (const w of [...waiters]) {
      if (w.match(message)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(message);
      }
    }
  };
  return {
    messages,
    waitFor(
      match: (m: Record<string, unknown>) => boolean,
      timeout = 5000,
    ): Promise<Record<string, unknown>> {
      const seen = messages.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('timed out waiting for a fixture message')),
          timeout,
        );
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    close: () => channel.close(),
  };
}
