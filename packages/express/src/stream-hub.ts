import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import type { Response } from 'express';
import { CREDIT, READY, STOP, type StreamMessage } from './protocol.js';

/**
 * Streams from pool threads, without a MessageChannel per request. A MessageChannel has to be
 * created and transferred before the handler runs, for every request of a streaming-capable
 * route, and costs more than the rest of the adapter together; most responses never stream.
 * Instead a thread that gets an async iterable asks for a channel on this hub's control
 * BroadcastChannel (a request id), and the main thread opens a BroadcastChannel for that request
 * only (named after the id, so no other thread receives its chunks) and says READY. Requests
 * that do not stream cost a Map entry.
 */
export class StreamHub {
  readonly name = `offthread.express.stream.${randomUUID()}`;
  private control: BroadcastChannel | undefined;
  private readonly receivers = new Map<number, StreamReceiver>();
  private nextId = 0;

  /** Register a request that may stream; returns its id. */
  register(res: Response, onHeadError: (error: unknown) => void): StreamReceiver {
    this.open();
    const id = ++this.nextId;
    const receiver = new StreamReceiver(this, id, res, onHeadError);
    this.receivers.set(id, receiver);
    return receiver;
  }

  /** @internal */
  forget(id: number): void {
    this.receivers.delete(id);
  }

  private open(): void {
    if (this.control) return;
    const control = new BroadcastChannel(this.name);
    // The hub must not keep the process alive; requests in flight do that already.
    control.unref();
    control.onmessage = (event) => {
      const id = (event as MessageEvent).data;
      if (typeof id !== 'number') return;
      const receiver = this.receivers.get(id);
      if (receiver) {
        receiver.attach();
      } else {
        // The request is gone: tell the producer to stop.
        const channel = new BroadcastChannel(`${this.name}.${id}`);
        channel.postMessage(STOP);
        channel.close();
      }
    };
    this.control = control;
  }
}

/** The main-thread end of one request's stream. */
export class StreamReceiver {
  private channel: BroadcastChannel | undefined;
  private closed = false;
  /** Whether the `end` message arrived (undefined while it has not). */
  private endSeen: boolean | undefined;
  private endWaiter: ((complete: boolean) => void) | undefined;

  constructor(
    private readonly hub: StreamHub,
    readonly id: number,
    private readonly res: Response,
    private readonly onHeadError: (error: unknown) => void,
  ) {}

  /**
   * Resolves true on the thread's `end` message, false when closed without it. Made on demand:
   * only a response that streamed asks, and most requests never do.
   */
  ended(): Promise<boolean> {
    if (this.endSeen !== undefined) return Promise.resolve(this.endSeen);
    return new Promise<boolean>((resolve) => {
      this.endWaiter = resolve;
    });
  }

  private settleEnd(complete: boolean): void {
    if (this.endSeen !== undefined) return;
    this.endSeen = complete;
    this.endWaiter?.(complete);
  }

  /** The thread asked for a channel: open it and tell the thread to start. */
  attach(): void {
    if (this.closed || this.channel) return;
    const channel = new BroadcastChannel(`${this.hub.name}.${this.id}`);
    channel.onmessage = (event) => this.onMessage((event as MessageEvent).data as StreamMessage);
    this.channel = channel;
    channel.postMessage(READY);
  }

  /** Stop the producer (if it is streaming) and release the channel. */
  close(stopProducer = false): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.forget(this.id);
    if (this.channel) {
      if (stopProducer) this.channel.postMessage(STOP);
      this.channel.close();
      this.channel = undefined;
    }
    this.settleEnd(false);
  }

  private onMessage(message: StreamMessage): void {
    const res = this.res;
    switch (message.t) {
      case 'head':
        try {
          if (message.s !== undefined) res.status(message.s);
          if (message.h) res.set(message.h as Record<string, string>);
          if (!res.hasHeader('content-type'))
            res.setHeader('Content-Type', 'application/octet-stream');
        } catch (error) {
          // A header Node refuses: drop what was set, stop the producer, answer 500.
          if (!res.headersSent) {
            for (const name of Object.keys(message.h ?? {})) {
              try {
                res.removeHeader(name);
              } catch {}
            }
          }
          this.close(true);
          this.onHeadError(error);
        }
        break;
      case 'chunk': {
        const d = message.d;
        const data = typeof d === 'string' ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
        if (res.write(data)) this.credit();
        else res.once('drain', () => this.credit());
        break;
      }
      case 'end':
        this.settleEnd(true);
        break;
    }
  }

  private credit(): void {
    this.channel?.postMessage(CREDIT);
  }
}
