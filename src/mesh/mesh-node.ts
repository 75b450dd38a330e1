/**
 * MeshNode: the libp2p + gossipsub adapter behind the `Gossip` port. It validates every inbound
 * envelope (core `validateEnvelope`, mapped to gossipsub verdicts so junk costs the sender
 * score), delivers the accepted ones to listeners, enforces the size limit on publish too, and
 * keeps configured static peers connected.
 */
import { createHash } from 'node:crypto';
import type { GossipSub, Message, TopicValidatorResult } from '@libp2p/gossipsub';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { MeshConfig } from '../config/schema.js';
import type { BackoffPolicy } from '../core/backoff.js';
import { validateEnvelope, type EnvelopeValidationContext } from '../core/envelope-validation.js';
import { encodeEnvelope, type TelemetryColumnForm } from '../core/envelope-codec.js';
import { DEFAULT_MAX_ENVELOPE_BYTES, envelopeAuthor, type Envelope } from '../core/envelope.js';
import { NetSyncError } from '../core/errors.js';
import type { Clock, EnvelopeListener, Gossip, GossipVerdict } from '../core/ports.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { SystemClock } from '../runtime/system-clock.js';
import { ColocationRefund } from './colocation-refund.js';
import { allowShardTopics, allowTopic } from './gossip-topics.js';
import type { MeshLibp2p } from './libp2p-factory.js';
import type { MeshMetrics, PublishFailureLabel } from './metrics.js';
import { StaleConnectionGuard } from './stale-connections.js';
import { StaticPeerKeeper, type StaticPeer } from './static-peers.js';
import { SubscriptionWatch } from './subscription-watch.js';
import { verifyPeerSignature } from './peer-signature.js';
import { withCachedSigner } from './signing-key.js';
import { meshScoreParams } from './score-params.js';

/** Options of {@link MeshNode}. */
export interface MeshNodeOptions {
  /** The node's key (see `loadOrCreateIdentity`). */
  privateKey: PrivateKey;
  /** The `mesh` slice of the config (`enabled` and `keyFile` are the caller's business). */
  config: Pick<MeshConfig, 'listen' | 'announce' | 'peers' | 'bootstrap' | 'mdns' | 'topic'>;
  /** Peer IDs whose envelopes are delivered (`consensus.cohort`); empty = open mode. */
  cohort?: readonly string[];
  /** Largest envelope sent or accepted, bytes. Default {@link DEFAULT_MAX_ENVELOPE_BYTES}. */
  maxEnvelopeBytes?: number;
  /** How telemetry columns are sent (`telemetry.wireColumns`). Default packed. */
  telemetryColumns?: TelemetryColumnForm;
  /** Static-peer redial delays (`mesh.redialMaxMs`). Default base 1 s, max 10 s, min 250 ms (full jitter). */
  redialBackoff?: BackoffPolicy;
  /** Static-peer dial timeout, ms. Default 10 s. */
  dialTimeoutMs?: number;
  /**
   * True for a peer exempt from gossipsub's IP-colocation penalty: a fleet member, so that a fleet
   * behind one address keeps its mesh (docs/fleet.md). Default: nobody.
   */
  colocationExempt?: (peerId: string) => boolean;
  /**
   * With a home shard: how many configured static peers outside it are kept connected besides
   * the shard mates ({@link keptStaticPeers}); the rest of `mesh.peers` only tells addresses.
   * Default: every static peer is kept (a cohort, open membership).
   */
  bridges?: number;
  /**
   * Subscribe to the fleet topic (`mesh.topic`). Default true. A fleet member summarising its
   * telemetry at the origin publishes nothing there and hears nothing it needs, so it stays off
   * and neither relays it nor keeps a gossipsub mesh for it (docs/fleet.md).
   */
  fleetTopic?: boolean;
  /** libp2p's connection-monitor ping period, ms (see `Libp2pFactoryOptions.pingIntervalMs`). Default 10 s. */
  pingIntervalMs?: number;
  metrics?: MeshMetrics;
  logger?: Logger;
  clock?: Clock;
}

// Runtime methods of gossipsub that its exported service type omits (docs/libp2p.md).
interface GossipSubInternals {
  getMeshPeers(topic: string): string[];
  getScore(peerId: string): number;
  readonly peers: Map<string, unknown>;
  readonly streamsOutbound: Map<string, unknown>;
  readonly streamsInbound: Map<string, unknown>;
  readonly topics: Map<string, Set<string>>;
}

/** How often connected shard mates' home-topic subscriptions are checked (subscription-watch.ts), ms. */
const SUBSCRIPTION_CHECK_MS = 5_000;

// The libp2p stack (libp2p, TCP, Noise, Yamux, gossipsub) is loaded when a node first starts:
// about half of the modules `net-sync start` loads, which a sidecar without a mesh never needs.
let factory: Promise<typeof import('./libp2p-factory.js')> | undefined;
function libp2pFactory(): Promise<typeof import('./libp2p-factory.js')> {
  factory ??= import('./libp2p-factory.js');
  return factory;
}

// gossipsub's TopicValidatorResult values, spelled out: importing the enum would load gossipsub
// in every sidecar, mesh or not (see libp2pFactory above).
const GOSSIPSUB_VERDICT: Record<GossipVerdict, TopicValidatorResult> = {
  accept: 'accept' as TopicValidatorResult,
  ignore: 'ignore' as TopicValidatorResult,
  reject: 'reject' as TopicValidatorResult,
};

/** This node's home shard as the mesh needs it: its topic, and its members (the only authors heard there). */
export interface HomeTopic {
  topic: string;
  members: readonly string[];
}

/**
 * A libp2p node on the net-sync topic. Implements {@link Gossip} on the fleet topic; its home
 * shard's topic, when it has one, is {@link MeshNode.homeGossip}.
 */
export class MeshNode implements Gossip {
  /** This node's peer ID (known before `start()`). */
  readonly peerId: string;
  /** The gossip topic. */
  readonly topic: string;
  private readonly opts: MeshNodeOptions;
  /** The node's key, signing through a cached `KeyObject` (libp2p's messages and our endorsements). */
  private readonly key: PrivateKey;
  private readonly log: Logger;
  private readonly maxBytes: number;
  private readonly listeners = new Set<EnvelopeListener>();
  // Envelopes decoded by the validator, with their author, handed to the message event without
  // decoding twice.
  private readonly accepted = new WeakMap<Message, { envelope: Envelope; from: string }>();
  /** Envelopes the validator refused since start, by reason: peer health reports them. */
  private readonly refusals = new Map<string, number>();
  // Peer ID strings by multihash bytes: base58 of every message's `from` cost more than its validation checks.
  private readonly authors = new Map<string, string>();
  private validation: EnvelopeValidationContext;
  private readonly inFlight = new Set<Promise<unknown>>();
  private node: MeshLibp2p | undefined;
  private keeper: StaticPeerKeeper | undefined;
  private watchTimer: ReturnType<typeof setInterval> | undefined;
  private stopping: Promise<void> | undefined;
  private home: { topic: string; members: ReadonlySet<string>; validation: EnvelopeValidationContext } | null = null;
  private readonly homeListeners = new Set<EnvelopeListener>();
  /** Other topics joined under the fleet topic (the telemetry topic), with their listeners. */
  private readonly sideTopics = new Map<string, Set<EnvelopeListener>>();
  /**
   * The Gossip of this node's home shard: publishes on, and hears only, the shard's topic, whose
   * validator delivers only the shard's members. Until {@link setHome}, the fleet topic.
   */
  readonly homeGossip: Gossip;

  constructor(opts: MeshNodeOptions) {
    this.opts = opts;
    this.key = withCachedSigner(opts.privateKey);
    this.peerId = peerIdFromPrivateKey(opts.privateKey).toString();
    this.topic = opts.config.topic;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'mesh' });
    this.maxBytes = opts.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
    this.validation = {
      maxBytes: this.maxBytes,
      cohort: new Set(opts.cohort ?? []),
    };
    this.homeGossip = {
      peerId: this.peerId,
      publish: (envelope, signal) => this.publishOn(this.home?.topic ?? this.topic, envelope, signal),
      onEnvelope: (listener) => {
        this.homeListeners.add(listener);
        return () => this.homeListeners.delete(listener);
      },
      sign: (bytes) => this.sign(bytes),
      verify: (peerId, bytes, signature) => this.verify(peerId, bytes, signature),
      peers: () => this.subscribers(this.home?.topic),
    };
  }

  /** Replaces the authors delivered on the fleet topic (a reloaded member list); empty = everyone. */
  setMembers(members: readonly string[]): void {
    this.validation = { maxBytes: this.maxBytes, cohort: new Set(members) };
    if (this.home !== null) this.home.validation = { ...this.validation, shard: this.home.members };
  }

  /**
   * Moves this node to its home shard's topic (or off any, with null): subscribes to it, leaves
   * the previous one, delivers only the shard's members there, and keeps shard mates connected
   * whose addresses are known. Before `start()` it is applied at start.
   */
  setHome(home: HomeTopic | null): void {
    const before = this.home?.topic;
    const members = new Set(home?.members ?? []);
    this.home =
      home === null ? null : { topic: home.topic, members, validation: { ...this.validation, shard: members } };
    const pubsub = this.pubsub();
    if (pubsub === undefined) return;
    if (before !== undefined && before !== home?.topic) {
      pubsub.unsubscribe(before);
      pubsub.topicValidators.delete(before);
    }
    if (home !== null && before !== home.topic) this.joinHome(pubsub);
    void this.keepMates();
  }

  /** The home shard's topic, or null when this node has none. */
  get homeTopic(): string | null {
    return this.home?.topic ?? null;
  }

  /**
   * A Gossip on another topic (the telemetry topic, `<mesh.topic>/telemetry`): subscribed at start,
   * or at once when started; validated as the fleet topic (only members are delivered); its
   * envelopes reach only its own listeners. A node that never joins a topic does not relay it.
   */
  joinTopic(topic: string): Gossip {
    let listeners = this.sideTopics.get(topic);
    if (listeners === undefined) {
      listeners = new Set();
      this.sideTopics.set(topic, listeners);
      const pubsub = this.pubsub();
      if (pubsub !== undefined) this.subscribeSide(pubsub, topic);
    }
    const heard = listeners;
    return {
      peerId: this.peerId,
      publish: (envelope, signal) => this.publishOn(topic, envelope, signal),
      onEnvelope: (listener) => {
        heard.add(listener);
        return () => heard.delete(listener);
      },
      sign: (bytes) => this.sign(bytes),
      verify: (peerId, bytes, signature) => this.verify(peerId, bytes, signature),
      peers: () => this.subscribers(topic),
    };
  }

  private subscribeSide(pubsub: GossipSub, topic: string): void {
    allowTopic(pubsub, topic);
    pubsub.topicValidators.set(topic, (_from, msg) => this.validate(msg));
    pubsub.subscribe(topic);
    this.log.info({ topic }, 'joined topic');
  }

  private joinHome(pubsub: GossipSub): void {
    const topic = this.home!.topic;
    allowTopic(pubsub, topic);
    pubsub.topicValidators.set(topic, (_from, msg) => this.validate(msg));
    pubsub.subscribe(topic);
    this.log.info({ topic, members: this.home!.members.size }, 'joined home shard topic');
  }

  // Shard mates are dialled and redialled whatever `mesh.peers` lists, once their addresses are
  // known (static peers, identify); a tag keeps the connection manager from pruning them.
  private async keepMates(): Promise<void> {
    const node = this.node;
    const keeper = this.keeper;
    if (node === undefined || keeper === undefined || this.home === null) return;
    for (const mate of this.home.members) {
      if (mate === this.peerId || keeper.keeps(mate)) continue;
      try {
        const id = peerIdFromString(mate);
        const known = await node.peerStore.get(id);
        const addr = known.addresses[0]?.multiaddr;
        if (addr === undefined) continue;
        await node.peerStore.merge(id, { tags: { 'net-sync-shard': { value: 100 } } });
        const text = addr.toString();
        keeper.add({ peerId: mate, addr: text.includes('/p2p/') ? text : `${text}/p2p/${mate}` });
      } catch {
        // Not in the peer store yet: identify of a later connection will tell its addresses.
      }
    }
  }

  /**
   * Creates and starts the libp2p node, subscribes to the topic and starts the static-peer
   * loops. Rejects with CONFIG_INVALID for `mdns: true` or a malformed peer address.
   */
  async start(): Promise<void> {
    if (this.node !== undefined) return;
    const cfg = this.opts.config;
    const statics = staticPeers(cfg.peers, this.peerId);
    const exempt = this.opts.colocationExempt;
    let refund: ColocationRefund | undefined;
    const { buildLibp2p } = await libp2pFactory();
    const node = await buildLibp2p({
      ...cfg,
      privateKey: this.key,
      maxEnvelopeBytes: this.maxBytes,
      extraTopics: [...(this.home === null ? [] : [this.home.topic]), ...this.sideTopics.keys()],
      ...(this.opts.pingIntervalMs === undefined ? {} : { pingIntervalMs: this.opts.pingIntervalMs }),
      ...(exempt === undefined ? {} : { appSpecificScore: (peerId: string) => refund?.score(peerId) ?? 0 }),
    });
    if (exempt !== undefined) {
      const { IPColocationFactorWeight, IPColocationFactorThreshold } = meshScoreParams(this.topic);
      refund = new ColocationRefund({
        connections: () => node.getConnections(),
        exempt,
        weight: IPColocationFactorWeight ?? 0,
        threshold: IPColocationFactorThreshold ?? 0,
      });
    }
    const pubsub = node.services.pubsub;
    // A fleet member hears which shard topic its peers are on, whatever its own plan says now.
    if (this.home !== null) allowShardTopics(pubsub, this.topic);
    pubsub.topicValidators.set(this.topic, (_from, msg) => this.validate(msg));
    pubsub.addEventListener('message', (evt) => this.deliver(evt.detail));
    node.addEventListener('peer:connect', () => this.refreshGauges());
    node.addEventListener(
      'connection:open',
      new StaleConnectionGuard(node, this.log, this.opts.metrics).onConnectionOpen,
    );
    node.addEventListener('peer:disconnect', (evt) => {
      this.keeper?.notifyDisconnected(evt.detail.toString());
      this.refreshGauges();
    });
    pubsub.addEventListener('gossipsub:heartbeat', () => this.refreshGauges());
    node.addEventListener('peer:identify', (evt) => {
      if (this.home?.members.has(evt.detail.peerId.toString()) === true) void this.keepMates();
    });
    await node.start();
    if (this.opts.fleetTopic !== false) pubsub.subscribe(this.topic);
    if (this.home !== null) this.joinHome(pubsub);
    for (const topic of this.sideTopics.keys()) this.subscribeSide(pubsub, topic);
    this.node = node;
    const kept = this.keptStatics(statics);
    for (const p of statics) {
      // Every static peer's address is remembered (a mate after a re-plan is dialled from it);
      // a tag keeps the connection manager from pruning the kept ones under connection pressure.
      await node.peerStore.merge(peerIdFromString(p.peerId), {
        multiaddrs: [multiaddr(p.addr)],
        ...(kept.includes(p) ? { tags: { 'net-sync-static': { value: 100 } } } : {}),
      });
    }
    this.keeper = new StaticPeerKeeper({
      peers: kept,
      dial: async (addr, signal) => {
        await node.dial(multiaddr(addr), { signal });
      },
      isConnected: (id) => node.getConnections(peerIdFromString(id)).length > 0,
      backoff: this.opts.redialBackoff ?? { baseMs: 1_000, maxMs: 10_000, minMs: 250 },
      dialTimeoutMs: this.opts.dialTimeoutMs ?? 10_000,
      checkIntervalMs: 5_000,
      clock: this.opts.clock ?? new SystemClock(),
      log: this.log,
      metrics: this.opts.metrics,
    });
    this.keeper.start();
    void this.keepMates();
    this.watchSubscriptions(node);
    this.log.info(
      {
        peerId: this.peerId,
        addrs: this.multiaddrs(),
        topic: this.topic,
        staticPeers: statics.length,
        keptPeers: kept.length,
      },
      'mesh started',
    );
  }

  // A connected mate whose home-topic subscription gossipsub lost is reconnected (subscription-watch.ts).
  private watchSubscriptions(node: MeshLibp2p): void {
    const connected = (id: string): boolean => node.getConnections(peerIdFromString(id)).length > 0;
    const watch = new SubscriptionWatch({
      mates: () => (this.home === null ? [] : [...this.home.members].filter((m) => m !== this.peerId)),
      connected,
      subscribers: () => this.subscribers(this.home?.topic),
      hangUp: async (id) => {
        await node.hangUp(peerIdFromString(id), { signal: AbortSignal.timeout(5_000) });
      },
      describe: (id) => {
        const g = this.internals();
        return {
          known: g?.peers.has(id),
          outbound: g?.streamsOutbound.has(id),
          inbound: g?.streamsInbound.has(id),
          topics: [...(g?.topics ?? [])].filter(([, peers]) => peers.has(id)).map(([t]) => t),
          connections: node.getConnections(peerIdFromString(id)).length,
        };
      },
      onRepair: () => this.opts.metrics?.subscriptionRepairs.inc(),
      clock: this.opts.clock ?? new SystemClock(),
      log: this.log,
    });
    this.watchTimer = setInterval(() => {
      if (this.home !== null && node.status === 'started') void watch.check();
    }, SUBSCRIPTION_CHECK_MS);
    this.watchTimer.unref();
  }

  // Static peers given redial loops: all of them, or, with a home shard and `bridges`, the mates and a few others.
  private keptStatics(statics: StaticPeer[]): StaticPeer[] {
    const bridges = this.opts.bridges;
    if (bridges === undefined || this.home === null) return statics;
    return keptStaticPeers(statics, this.peerId, this.home.members, bridges);
  }

  /** Stops the redial loops, waits for in-flight publishes, stops libp2p. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopping ??= this.doStop();
    await this.stopping;
  }

  private async doStop(): Promise<void> {
    const node = this.node;
    if (node === undefined) return;
    clearInterval(this.watchTimer);
    await this.keeper?.stop();
    await Promise.allSettled([...this.inFlight]);
    await node.stop();
    this.refreshGauges();
    this.log.info({ peerId: this.peerId }, 'mesh stopped');
  }

  /** Listen addresses with `/p2p/<peerId>`, dialable by peers. Empty before `start()`. */
  multiaddrs(): string[] {
    return this.node?.getMultiaddrs().map(String) ?? [];
  }

  /** {@inheritDoc Gossip.publish} Also INPUT_INVALID when the envelope does not conform or names another author. */
  async publish(envelope: Envelope, signal?: AbortSignal): Promise<void> {
    return this.publishOn(this.topic, envelope, signal);
  }

  private async publishOn(topic: string, envelope: Envelope, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw new NetSyncError('ABORTED', 'publish aborted');
    const pubsub = this.pubsub();
    if (pubsub === undefined) throw this.publishError('not-started', 'mesh node is not started');
    if (envelopeAuthor(envelope) !== this.peerId) {
      // Peers would reject it as author-mismatch and lower our score.
      throw new NetSyncError('INPUT_INVALID', `${envelope.kind} names another author than this node`);
    }
    const bytes = encodeEnvelope(envelope, { telemetryColumns: this.opts.telemetryColumns ?? 'packed' });
    if (bytes.length > this.maxBytes) {
      throw this.publishError('oversized', `envelope of ${bytes.length} bytes exceeds the limit of ${this.maxBytes}`);
    }
    const sent = pubsub.publish(topic, bytes);
    this.inFlight.add(sent);
    try {
      await sent;
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      const label: PublishFailureLabel = message.includes('NoPeersSubscribedToTopic') ? 'no-peers' : 'other';
      throw this.publishError(label, `gossip publish failed: ${message}`, err);
    } finally {
      this.inFlight.delete(sent);
    }
    this.opts.metrics?.messages.inc({ direction: 'out', kind: envelope.kind });
    this.log.debug({ kind: envelope.kind, bytes: bytes.length }, 'envelope published');
  }

  /** {@inheritDoc Gossip.onEnvelope} */
  onEnvelope(listener: EnvelopeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** {@inheritDoc Gossip.sign} */
  async sign(bytes: Uint8Array): Promise<Uint8Array> {
    return await this.key.sign(bytes);
  }

  /** {@inheritDoc Gossip.verify} The key comes from the peer ID itself (Ed25519, secp256k1). */
  async verify(peerId: string, bytes: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return verifyPeerSignature(peerId, bytes, signature);
  }

  /** Envelopes the validator refused since start, by reason (cumulative). */
  validatorRejects(): Record<string, number> {
    return Object.fromEntries(this.refusals);
  }

  /** {@inheritDoc Gossip.peers} */
  peers(): string[] {
    // From the connections' own peer IDs: libp2p's getPeers() rebuilds each one from its base58
    // string (a decode and a key import per peer), a visible share of an idle sidecar's CPU.
    const out = new Set<string>();
    for (const conn of this.node?.getConnections() ?? []) out.add(conn.remotePeer.toString());
    return [...out];
  }

  /** Peers in our gossipsub mesh for the topic (they get full messages, not just gossip). */
  meshPeers(): string[] {
    return this.internals()?.getMeshPeers(this.topic) ?? [];
  }

  /** Peers we know to be subscribed to the topic (default: the fleet topic). */
  subscribers(topic: string = this.topic): string[] {
    return this.pubsub()?.getSubscribers(topic).map(String) ?? [];
  }

  /** Peers in our gossipsub mesh for the home shard's topic; empty without one. */
  homeMeshPeers(): string[] {
    return this.home === null ? [] : (this.internals()?.getMeshPeers(this.home.topic) ?? []);
  }

  /** Round-trip time to `peerId` over the ping protocol, ms. Rejects when unreachable. */
  async ping(peerId: string, signal?: AbortSignal): Promise<number> {
    const node = this.requireNode();
    return node.services.ping.ping(peerIdFromString(peerId), { signal });
  }

  /**
   * The round-trip time libp2p's connection monitor last measured on a connection to `peerId`
   * (every 10 s; 30 s on a fleet member), ms; undefined when not connected or not measured yet.
   */
  rtt(peerId: string): number | undefined {
    if (this.node?.status !== 'started') return undefined;
    let id: PeerId;
    try {
      id = peerIdFromString(peerId);
    } catch {
      return undefined;
    }
    for (const conn of this.node.getConnections(id)) if (conn.rtt !== undefined && conn.rtt >= 0) return conn.rtt;
    return undefined;
  }

  /** Gossipsub score of every connected peer. */
  scores(): Record<string, number> {
    const internals = this.internals();
    const out: Record<string, number> = {};
    if (internals === undefined) return out;
    for (const p of this.peers()) out[p] = internals.getScore(p);
    return out;
  }

  /** Gossipsub score of one peer (0 when unknown). */
  score(peerId: string): number {
    return this.internals()?.getScore(peerId) ?? 0;
  }

  private async validate(msg: Message): Promise<TopicValidatorResult> {
    if (msg.type !== 'signed') return GOSSIPSUB_VERDICT.reject; // StrictSign makes this unreachable
    const author = this.authorOf(msg.from);
    const ctx =
      msg.topic === this.topic || this.sideTopics.has(msg.topic)
        ? this.validation
        : msg.topic === this.home?.topic
          ? this.home.validation
          : undefined;
    if (ctx === undefined) return GOSSIPSUB_VERDICT.ignore; // a topic we just left
    const result = await validateEnvelope(msg.data, author, ctx);
    if (result.verdict === 'accept') {
      this.accepted.set(msg, { envelope: result.envelope, from: author });
    } else {
      this.opts.metrics?.rejected.inc({ reason: result.reason });
      this.refusals.set(result.reason, (this.refusals.get(result.reason) ?? 0) + 1);
      this.log.debug(
        { from: author, reason: result.reason, detail: result.detail, verdict: result.verdict },
        'envelope refused',
      );
    }
    return GOSSIPSUB_VERDICT[result.verdict];
  }

  private deliver(msg: Message): void {
    if (msg.type !== 'signed') return;
    const listeners =
      msg.topic === this.topic
        ? this.listeners
        : msg.topic === this.home?.topic
          ? this.homeListeners
          : (this.sideTopics.get(msg.topic) ?? null);
    if (listeners === null) return;
    const accepted = this.accepted.get(msg);
    if (accepted === undefined) return;
    this.accepted.delete(msg);
    const { envelope, from } = accepted;
    this.opts.metrics?.messages.inc({ direction: 'in', kind: envelope.kind });
    for (const listener of listeners) {
      try {
        listener(envelope, from);
      } catch (err) {
        this.opts.metrics?.listenerErrors.inc();
        this.log.warn({ err, kind: envelope.kind }, 'envelope listener threw');
      }
    }
  }

  private authorOf(from: PeerId): string {
    const bytes = from.toMultihash().bytes;
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    let id = this.authors.get(key);
    if (id === undefined) {
      if (this.authors.size >= 10_000) this.authors.clear(); // bounded: peers, not messages
      id = from.toString();
      this.authors.set(key, id);
    }
    return id;
  }

  private publishError(label: PublishFailureLabel, message: string, cause?: unknown): NetSyncError {
    this.opts.metrics?.publishFailures.inc({ reason: label });
    return new NetSyncError('MESH_PUBLISH', message, cause === undefined ? undefined : { cause });
  }

  private refreshGauges(): void {
    this.opts.metrics?.peers.set(this.node?.status === 'started' ? this.peers().length : 0);
    this.opts.metrics?.meshPeers.set(this.node?.status === 'started' ? this.meshPeers().length : 0);
  }

  private requireNode(): MeshLibp2p {
    if (this.node === undefined || this.node.status !== 'started')
      throw new NetSyncError('INTERNAL', 'mesh node is not started');
    return this.node;
  }

  private pubsub(): GossipSub | undefined {
    return this.node?.status === 'started' ? this.node.services.pubsub : undefined;
  }

  private internals(): GossipSubInternals | undefined {
    return this.pubsub() as unknown as GossipSubInternals | undefined;
  }
}

/**
 * The static peers a fleet member keeps connected: its shard mates, and `bridges` others chosen by
 * rendezvous hashing on (self, peer), so that each member picks its own few, the choices spread
 * over the fleet, and the graph of shards stays connected without every member dialling every
 * other (each connection costs both ends pings and gossipsub upkeep, whether or not it carries
 * anything). A member is also dialled by the few that picked it: about mates + 2 × bridges each.
 */
export function keptStaticPeers(
  statics: readonly StaticPeer[],
  self: string,
  mates: ReadonlySet<string>,
  bridges: number,
): StaticPeer[] {
  const weight = (p: StaticPeer): string => createHash('sha256').update(`${self}\n${p.peerId}`).digest('hex');
  const others = statics
    .filter((p) => !mates.has(p.peerId))
    .map((p) => ({ p, w: weight(p) }))
    .sort((a, b) => (a.w < b.w ? 1 : a.w > b.w ? -1 : 0))
    .slice(0, Math.max(0, bridges))
    .map((x) => x.p);
  return statics.filter((p) => mates.has(p.peerId) || others.includes(p));
}

/** Parses `mesh.peers` into static peers, dropping this node's own entry (shared cohort configs list everyone). */
export function staticPeers(addrs: readonly string[], self: string): StaticPeer[] {
  const out: StaticPeer[] = [];
  addrs.forEach((addr, i) => {
    let peerId: PeerId;
    try {
      const id = multiaddr(addr)
        .getComponents()
        .findLast((c) => c.name === 'p2p')?.value;
      peerId = peerIdFromString(id ?? '');
    } catch (err) {
      throw new NetSyncError('CONFIG_INVALID', `mesh.peers[${i}]: not a multiaddr ending in /p2p/<peerId>`, {
        cause: err,
        field: `mesh.peers[${i}]`,
      });
    }
    if (peerId.toString() !== self) out.push({ peerId: peerId.toString(), addr });
  });
  return out;
}
