/**
 * An in-memory gossip bus for consensus tests: each `MemoryGossip` is one node's `Gossip` port
 * with a real Ed25519 key. Envelopes are encoded, run through the real validator (author,
 * cohort, digest, signatures) and delivered asynchronously to every reachable node. Partitions
 * and crashed nodes drop messages, as gossipsub does (no store and forward).
 * test/support/gossip-contract.ts holds it to what MeshNode does on loopback.
 */
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { validateEnvelope } from '../../src/core/envelope-validation.js';
import { encodeEnvelope } from '../../src/core/envelope-codec.js';
import { DEFAULT_MAX_ENVELOPE_BYTES, envelopeAuthor, type Envelope } from '../../src/core/envelope.js';
import { NetSyncError } from '../../src/core/errors.js';
import type { EnvelopeListener, Gossip } from '../../src/core/ports.js';
import { verifyPeerSignature } from '../../src/mesh/peer-signature.js';

/** The shared medium. */
export class MemoryGossipBus {
  readonly nodes: MemoryGossip[] = [];
  /** Envelopes published, by kind. */
  readonly published = new Map<string, number>();
  private groups: Map<string, number> | null = null;
  private cohort = new Set<string>();

  /** Creates `n` nodes with fresh keys. */
  static async create(n: number): Promise<MemoryGossipBus> {
    const bus = new MemoryGossipBus();
    for (let i = 0; i < n; i++) bus.nodes.push(new MemoryGossip(bus, await generateKeyPair('Ed25519')));
    return bus;
  }

  /** Validates inbound envelopes against this cohort (empty = open). */
  setCohort(cohort: readonly string[]): void {
    this.cohort = new Set(cohort);
  }

  /** Splits the nodes into groups that cannot hear each other. */
  partition(...groups: MemoryGossip[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => {
      g.forEach((n) => {
        this.groups!.set(n.peerId, i);
      });
    });
  }

  heal(): void {
    this.groups = null;
  }

  reachable(a: MemoryGossip, b: MemoryGossip): boolean {
    if (a === b || a.down || b.down) return false;
    return this.groups === null || this.groups.get(a.peerId) === this.groups.get(b.peerId);
  }

  deliver(from: MemoryGossip, envelope: Envelope, bytes: Uint8Array = encodeEnvelope(envelope)): void {
    this.published.set(envelope.kind, (this.published.get(envelope.kind) ?? 0) + 1);
    for (const to of this.nodes) {
      if (!this.reachable(from, to)) continue;
      void validateEnvelope(bytes, from.peerId, {
        maxBytes: DEFAULT_MAX_ENVELOPE_BYTES,
        cohort: this.cohort,
      }).then((r) => {
        if (r.verdict === 'accept' && this.reachable(from, to)) to.receive(r.envelope, from.peerId);
      });
    }
  }
}

/** One node's end of the bus. */
export class MemoryGossip implements Gossip {
  readonly peerId: string;
  /** A crashed node neither sends nor receives. */
  down = false;
  /** Listener calls that threw (MeshNode counts them in `net_sync_gossip_listener_errors_total`). */
  listenerErrors = 0;
  private readonly listeners = new Set<EnvelopeListener>();

  constructor(
    private readonly bus: MemoryGossipBus,
    private readonly key: PrivateKey,
  ) {
    this.peerId = peerIdFromPrivateKey(key).toString();
  }

  /** Checks in MeshNode's order: aborted, author, conformance, size, then whether anyone listens. */
  async publish(envelope: Envelope, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw new NetSyncError('ABORTED', 'publish aborted');
    if (envelopeAuthor(envelope) !== this.peerId) throw new NetSyncError('INPUT_INVALID', 'names another author');
    const bytes = encodeEnvelope(envelope);
    if (bytes.length > DEFAULT_MAX_ENVELOPE_BYTES)
      throw new NetSyncError('MESH_PUBLISH', `envelope of ${bytes.length} bytes exceeds the limit`);
    if (this.down) throw new NetSyncError('MESH_PUBLISH', 'node is down');
    if (this.peers().length === 0) throw new NetSyncError('MESH_PUBLISH', 'PublishError.NoPeersSubscribedToTopic');
    this.bus.deliver(this, envelope, bytes);
  }

  onEnvelope(listener: EnvelopeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  sign(bytes: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.key.sign(bytes));
  }

  verify(peerId: string, bytes: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return verifyPeerSignature(peerId, bytes, signature);
  }

  peers(): string[] {
    return this.bus.nodes.filter((n) => this.bus.reachable(this, n)).map((n) => n.peerId);
  }

  receive(envelope: Envelope, from: string): void {
    if (this.down) return;
    // As MeshNode: a throwing listener is its own problem, never the mesh's or the other listeners'.
    for (const l of this.listeners) {
      try {
        l(envelope, from);
      } catch {
        this.listenerErrors++;
      }
    }
  }
}
