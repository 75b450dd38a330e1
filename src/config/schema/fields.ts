/**
 * Field validators several config sections share: addresses, URLs, durations.
 */
import { z } from 'zod';
import { zDurationMs } from '../../core/units.js';

/** `host:port`, an IPv6 host in brackets. */
export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7654');
// nats.js on Node speaks TCP only: a ws:// URL would be dialled as TCP and fail on every attempt.
/** A `nats://` or `tls://` URL. */
export const natsUrl = z
  .string()
  .refine(
    (s) => !/^wss?:\/\//i.test(s),
    'ws:// and wss:// are not supported (the client speaks TCP): use nats:// or tls://',
  )
  .refine((s) => /^(nats|tls):\/\/[^\s]+$/.test(s), 'must be a NATS URL, e.g. nats://127.0.0.1:4222');
/** A duration above 0; the message names it as `name`. */
export const positiveMs = (name: string) => zDurationMs.refine((v) => v > 0, `${name} must be above 0`);
/** A libp2p multiaddr over IP or DNS. */
export const multiaddr = z.string().regex(/^\/(ip4|ip6|dns4|dns6|dns)\/[^\s]+$/, 'not a multiaddr');
/** A multiaddr ending in `/p2p/<peerId>`. */
export const peerAddr = multiaddr.refine((s) => /\/p2p\/[A-Za-z0-9]+$/.test(s), 'must end in /p2p/<peerId>');

/** A NATS subject; wildcards `*` and `>` allowed. */
export const natsSubject = z
  .string()
  .max(256, 'at most 256 characters')
  .regex(
    /^([A-Za-z0-9_-]+|\*)(\.([A-Za-z0-9_-]+|\*))*(\.>)?$|^>$/,
    'must be a NATS subject (wildcards * and > allowed)',
  );
