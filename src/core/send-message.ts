/**
 * One publish through a {@link CommandPublisher}, callback style: its `send` when it has one (no
 * promise per message), else its `publish`.
 */
import type { CommandPublisher, OutboundMessage, PublishDone } from './ports.js';
/** Sends `msg` through `publisher.send` when it has one, else through `publish`. */
export function sendMessage<C>(
  publisher: CommandPublisher,
  msg: OutboundMessage,
  ctx: C,
  done: PublishDone<C>,
  signal?: AbortSignal,
): void {
  if (publisher.send !== undefined) publisher.send(msg, ctx, done, signal);
  else void publisher.publish(msg, signal).then((r) => done(ctx, r));
}
