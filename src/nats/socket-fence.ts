/**
 * The fence under "exactly once across a takeover": resetting a connection's TCP socket so that
 * nothing written on it can reach the server later.
 *
 * A publish whose PubAck never came may still be on its way. Cut a host off (link down, no RST,
 * no FIN) and the kernel keeps the unacknowledged bytes and retransmits them when the link comes
 * back, seconds later, on a socket the server never closed; a graceful `close()` (what nats.js
 * does) still sends them, then the FIN. By then another committer has looked the intent up, not
 * found it, and published it, and once the stream's duplicate window has passed, the late copy
 * is stored a second time. `resetAndDestroy()` (SO_LINGER 0) makes the kernel forget the queue
 * and send a RST instead: from that moment no byte of this connection can arrive anywhere.
 */
import type { Socket } from 'node:net';
import type { NatsConnection } from 'nats';

/**
 * Resets `nc`'s socket (RST, send queue dropped). Reaches into nats.js 2.x internals
 * (`protocol.transport.socket`, checked with 2.29.3; a TLS socket is reset through the TCP
 * socket it wraps). False when no socket could be reset; the caller then only closes.
 */
export function resetSocket(nc: NatsConnection): boolean {
  const socket = (nc as unknown as { protocol?: { transport?: { socket?: Socket } } }).protocol?.transport?.socket;
  for (const s of [socket, (socket as { _parent?: Socket } | undefined)?._parent]) {
    if (s === undefined || s === null || typeof s.resetAndDestroy !== 'function') continue;
    try {
      s.resetAndDestroy();
      return true;
    } catch {
      // a TLS socket's own handle is not a TCP handle: try the socket it wraps
    }
  }
  return false;
}
