/**
 * The library's helper for consumers that read the command stream themselves: the payload of a
 * command stored by reference, fetched from its Object Store bucket and checked (docs/payloads.md).
 */
import type { NatsConnection } from 'nats';
import { type PayloadRef, payloadRefOf } from '../core/payload-ref.js';
import { JetStreamObjectStore } from './jetstream-object-store.js';

/** Options of {@link resolvePayloadRef}. */
export interface ResolvePayloadOptions {
  /** Wait for each JetStream request, ms. Default 30 s. */
  timeoutMs?: number;
}

/**
 * The payload `ref` points at: the object's bytes, checked against the reference's size and
 * SHA-256 digest, parsed as JSON. Pass a `payloadRef`, or a whole command body (parsed or as
 * bytes): a body that carries its payload inline gives that payload. Never creates the bucket.
 * Rejects with a `PayloadRefError` whose `problem` is `missing`, `size`, `digest` or `json`, or
 * with the NATS error when the server cannot answer.
 */
export async function resolvePayloadRef(
  nc: NatsConnection,
  ref: PayloadRef | Uint8Array | object,
  opts: ResolvePayloadOptions = {},
): Promise<unknown> {
  let target: PayloadRef | undefined;
  if (ref instanceof Uint8Array) {
    target = payloadRefOf(ref);
    if (target === undefined) return (JSON.parse(new TextDecoder().decode(ref)) as { payload?: unknown }).payload;
  } else if ('payloadRef' in ref || 'payload' in ref) {
    target = payloadRefOf(ref);
    if (target === undefined) return (ref as { payload?: unknown }).payload;
  } else {
    target = ref as unknown as PayloadRef;
  }
  const objects = new JetStreamObjectStore({
    connection: () => nc,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  });
  return objects.resolve(target);
}
