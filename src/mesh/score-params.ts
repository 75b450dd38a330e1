/**
 * Gossipsub peer-score parameters chosen for net-sync's one quiet, low-rate topic (see
 * docs/libp2p.md, pitfall 3: the library defaults are test values). The aim: a peer that sends
 * invalid envelopes is graylisted (its RPCs dropped) within about a heartbeat, an honest but quiet
 * peer is never penalised, and good behaviour cannot bank enough credit to hide abuse.
 *
 * Arithmetic (topicWeight 1): positive contributions are capped at `topicScoreCap` = 10. Each
 * invalid message adds 1 to a counter c whose penalty is -5·c². c = 2 → -20 (below gossip,
 * -10); c = 4 → -80 + 10 (below publish, -50); c = 5 → -125 + 10 = -115, below graylist (-80).
 * The score crosses at the 5th invalid message, but gossipsub acts on it later: it caches a score
 * for one heartbeat (1 s) and takes up to 128 messages in 1 s unchecked from a peer last scored
 * >= 0. At R invalid messages/s, up to about R·1 s + 128 get through first (113-223 at 250/s in
 * issue 16's probe), and c starts from that many. c decays ×0.999 per second while connected, and
 * the peer is readmitted when -5·c² + credit >= -80, i.e. c <= 4 (4.24 with full credit), after
 * t = ln(c₀/4) / -ln(0.999) ≈ 1,000 s · ln(c₀/4): c₀ = 5 → 3.7 min, 113 → 56 min, 223 → 67 min.
 * A disconnected peer's score does not decay; it is kept an hour (retainScore), then forgotten.
 */
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score';

/** Score thresholds. gossip/publish/graylist keep the library's spacing; PX is off anyway. */
export const MESH_SCORE_THRESHOLDS: PeerScoreThresholds = {
  // Below this we stop sending and accepting gossip (IHAVE/IWANT) to/from the peer.
  gossipThreshold: -10,
  // Below this we stop flood-publishing our own envelopes to the peer.
  publishThreshold: -50,
  // Below this every RPC from the peer is dropped unread.
  graylistThreshold: -80,
  // PX is disabled (doPX false); a value no peer can reach keeps it that way.
  acceptPXThreshold: 1_000,
  // Topic scores are capped at 10, so the library's 20 would graft opportunistically forever.
  opportunisticGraftThreshold: 2,
};

/** Topic parameters for the net-sync topic. */
export const MESH_TOPIC_SCORE: TopicScoreParams = {
  topicWeight: 1,
  // P1 time in mesh: +1 per second-quantum × 10/3600, so +10 only after an hour in the mesh.
  // (The default quantum is 1 ms: it saturates in seconds and masks penalties.)
  timeInMeshWeight: 10 / 3_600,
  timeInMeshQuantum: 1_000,
  timeInMeshCap: 3_600,
  // P2 first deliveries: up to +10 for peers that bring us new envelopes first; slow decay.
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.999,
  firstMessageDeliveriesCap: 10,
  // P3/P3b mesh delivery deficits: off. Intents are bursty and can be silent for hours; a
  // delivery quota would punish honest quiet peers (the library default does).
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 1,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 60_000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  // P4 invalid messages: -5·c², decaying 0.999 per second (half-life 11.5 min; see the file comment).
  invalidMessageDeliveriesWeight: -5,
  invalidMessageDeliveriesDecay: 0.999,
};

/** Peer score parameters with `topic` scored by {@link MESH_TOPIC_SCORE}. */
export function meshScoreParams(topic: string): Partial<PeerScoreParams> {
  return {
    topics: { [topic]: { ...MESH_TOPIC_SCORE } },
    // Positive topic credit is capped so it can offset at most two invalid messages.
    topicScoreCap: 10,
    // P5: 0 here; a mesh with members (or a cohort) overrides it to refund the IP-colocation
    // penalty to members on a crowded address (colocation-refund.ts). Membership itself is
    // enforced by the validator (ignore), not by score.
    appSpecificScore: () => 0,
    appSpecificWeight: 1,
    // P6 IP colocation: more than 10 peers from one IP is suspicious (Sybil); a few sidecars
    // behind one NAT are not.
    IPColocationFactorWeight: -5,
    IPColocationFactorThreshold: 10,
    // P7 protocol misbehaviour (GRAFT during backoff, broken IWANT promises): tolerate 6, then
    // -10 per excess²; the library's decay of 0.2/s forgets within seconds, 0.99/s in ≈ 70 s.
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 6,
    behaviourPenaltyDecay: 0.99,
    decayInterval: 1_000,
    decayToZero: 0.01,
    // Keep a disconnected peer's score an hour, so reconnecting does not launder it.
    retainScore: 3_600_000,
  };
}
