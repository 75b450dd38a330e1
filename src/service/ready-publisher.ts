/**
 * A CommandPublisher that reports `connected` only once the streams exist on the server the
 * connection reached, so that the committer never races stream creation into dead rows.
 */
import type {
  CommandPublisher,
  ConnectionListener,
  ConnectionState,
  OutboundMessage,
  PublishDone,
  PublishResult,
} from '../core/ports.js';
import { sendMessage } from '../core/send-message.js';

/** Gate over a publisher: connected = inner connected AND `open()` was called since. */
export class ReadyPublisher implements CommandPublisher {
  private ready = false;
  private readonly listeners = new Set<ConnectionListener>();

  constructor(private readonly inner: CommandPublisher) {
    inner.onState((s) => {
      if (s !== 'connected') this.ready = false;
      this.emit();
    });
  }

  get state(): ConnectionState {
    const s = this.inner.state;
    return s === 'connected' && !this.ready ? 'connecting' : s;
  }

  /** Marks the streams as ready for the current connection. */
  open(): void {
    this.ready = true;
    this.emit();
  }

  onState(listener: ConnectionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(msg: OutboundMessage, signal?: AbortSignal): Promise<PublishResult> {
    return this.inner.publish(msg, signal);
  }

  send<C>(msg: OutboundMessage, ctx: C, done: PublishDone<C>, signal?: AbortSignal): void {
    sendMessage(this.inner, msg, ctx, done, signal);
  }

  private emit(): void {
    const s = this.state;
    for (const l of this.listeners) l(s);
  }
}
