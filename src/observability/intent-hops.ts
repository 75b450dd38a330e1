/**
 * Per-intent timeline points ("hops") on a `node:diagnostics_channel`, for benchmarks and
 * debugging: accept → durable → proposal sent → 202, an endorser's copy, the committer's quorum,
 * promotion, claim, publish and PubAck. Nothing is built or sent unless something subscribes
 * (`bench/consensus-probe.ts` does, loaded with `--import` into each sidecar of
 * `npm run bench:consensus`), so the cost when off is one property read per point.
 */
import { channel } from 'node:diagnostics_channel';

/** The channel's name. Messages are {@link IntentHop}. */
export const INTENT_HOP_CHANNEL = 'net-sync:intent-hop';

/** Where an intent was, when (`atMs`: epoch ms, sub-ms precision, comparable across processes). */
export interface IntentHop {
  readonly id: string;
  readonly hop: string;
  readonly atMs: number;
}

const hops = channel(INTENT_HOP_CHANNEL);

/** Records that `correlationId` reached `hop` now (or at `atMs`). No-op without a subscriber. */
export function intentHop(correlationId: string, hop: string, atMs?: number): void {
  if (!hops.hasSubscribers) return;
  hops.publish({
    id: correlationId,
    hop,
    atMs: atMs ?? performance.timeOrigin + performance.now(),
  } satisfies IntentHop);
}

/** Now, as {@link IntentHop.atMs} counts it; 0 when nothing subscribes (saves the clock read). */
export function hopNow(): number {
  return hops.hasSubscribers ? performance.timeOrigin + performance.now() : 0;
}
