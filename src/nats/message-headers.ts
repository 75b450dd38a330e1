/**
 * JetStream message headers as a plain record: a repeated header keeps its first value.
 */
import type { MsgHdrs } from 'nats';

/** `headers` flattened; empty when the message has none. */
export function headerRecord(headers: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers !== undefined) for (const [k, v] of headers) if (v[0] !== undefined) out[k] = v[0];
  return out;
}
