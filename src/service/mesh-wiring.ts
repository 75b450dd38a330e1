/**
 * The mesh and consensus half of the composition root: the libp2p node, the consensus driver,
 * and their hooks into the committer and the API. Built by the Sidecar when the mesh is wanted
 * (see {@link meshWanted}); the driver only when consensus is on (`mesh.enabled`, or a quorum
 * above 1). Starts after the outbox and the committer, stops before them.
 */
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { Registry } from 'prom-client';
import type { IntentView } from '../api/index.js';
import { ConsensusDriver, createConsensusMetrics } from '../consensus/index.js';
import type { OutboxCommitter } from '../commit/index.js';
import { readMembers } from '../config/members-file.js';
import { fleetConfigured, summariseMode, type Config } from '../config/schema.js';
import { consensusEnabled, resolveQuorum } from '../core/consensus.js';
import type { CohortFederation } from '../core/federation-cohort.js';
import type { Clock, Outbox, StreamReader } from '../core/ports.js';
import type { PayloadRef } from '../core/payload-ref.js';
import { takeoverLookupAfterMs } from '../core/retention-hazard.js';
import { createFleetMetrics, FleetMembership, type Replan, ShardHealth, type ShardStatus } from '../fleet/index.js';
import { createMeshMetrics, MeshNode } from '../mesh/index.js';
import type { Logger } from '../observability/logger.js';

/** Static peers outside its home shard a fleet member keeps connected (docs/fleet.md, "Connections"). */
export const FLEET_BRIDGES = 2;

/**
 * libp2p's connection-monitor ping period on a fleet member, ms (libp2p's default 10 s): each ping
 * is a new stream on both ends. A closed connection is seen at once anyway; only a connection that
 * goes silent without closing is found later (docs/fleet.md).
 */
export const FLEET_PING_INTERVAL_MS = 30_000;

/** What {@link MeshWiring} is built from. */
export interface MeshWiringOptions {
  config: Config;
  privateKey: PrivateKey;
  outbox: Outbox;
  committer: OutboxCommitter;
  /** The API's SSE hub. */
  events: { publish(event: string, data: unknown): void };
  clock: Clock;
  logger: Logger;
  registry: Registry;
  newId: (nowMs: number) => string;
  randomHex: (bytes: number) => string;
  /** Reads the stream back before an intent is declared expired here. */
  reader: StreamReader;
  /** Federation's checks and signatures of events (consensus on, federation on). */
  federation?: CohortFederation | null;
  /**
   * Stores a payload too large for gossip and returns its reference (docs/payloads.md); the
   * caller also starts its upload, since another node may commit it.
   */
  externalise?: (
    correlationId: string,
    payload: unknown,
    payloadBytes: number,
    canonical?: Uint8Array,
  ) => Promise<PayloadRef | undefined>;
}

/** True when `config` asks for consensus (and so for the mesh). */
export function consensusWanted(config: Config): boolean {
  return consensusEnabled(config.consensus.quorum, config.mesh.enabled);
}

/**
 * True when this node joins a libp2p mesh: for consensus, and also for telemetry when scouts
 * summarise it (`telemetry.summarise: scouts`) and the config says it has peers (static or
 * bootstrap) or is a scout, whose job is to hear the mesh. Such a node gossips telemetry; with
 * quorum 1 and `mesh.enabled` unset, its intents still go straight to `pending-commit` (consensus
 * off). A node that summarises its own points at the origin has no use for a mesh without
 * consensus, and starts none whatever `mesh.peers` lists.
 */
export function meshWanted(config: Config): boolean {
  const m = config.mesh;
  const scouts = summariseMode(config.telemetry) === 'scouts';
  return (
    consensusWanted(config) || (scouts && (m.peers.length > 0 || m.bootstrap.length > 0 || config.telemetry.scout))
  );
}

/** The mesh node and, when consensus is on, the consensus driver, wired. */
export class MeshWiring {
  readonly mesh: MeshNode;
  /** Null when consensus is off: the mesh then carries telemetry only. */
  readonly driver: ConsensusDriver | null;
  /** The fleet's members and home shards (`consensus.members`); null for a cohort. */
  readonly fleet: FleetMembership | null;
  /** This node's home shard's health; null for a cohort. */
  readonly shard: ShardHealth | null;
  private readonly quorum: number | null;
  private readonly log: Logger;

  /**
   * Throws CONFIG_INVALID naming `consensus.quorum` when the quorum cannot be met (per shard in a
   * fleet), or `consensus.membersFile` when the file cannot be read.
   */
  constructor(opts: MeshWiringOptions) {
    const { config, logger } = opts;
    this.log = logger;
    const self = peerIdOf(opts.privateKey);
    this.fleet = fleetConfigured(config.consensus)
      ? new FleetMembership({
          self,
          members: readMembers(config.consensus),
          shardSize: config.consensus.shardSize,
          quorum: config.consensus.quorum,
          baseTopic: config.mesh.topic,
        })
      : null;
    const fleet = this.fleet;
    this.quorum = fleet === null ? resolveQuorum(config.consensus.quorum, config.consensus.cohort) : null;
    const cohort = new Set(config.consensus.cohort);
    this.mesh = new MeshNode({
      privateKey: opts.privateKey,
      config: config.mesh,
      telemetryColumns: config.telemetry.wireColumns,
      redialBackoff: { baseMs: 1_000, maxMs: config.mesh.redialMaxMs, minMs: 250 },
      cohort: fleet?.members ?? config.consensus.cohort,
      // Members (or cohort members) keep their score on a crowded IP; open membership exempts nobody.
      colocationExempt: fleet !== null ? (p) => fleet.isMember(p) : (p) => cohort.has(p),
      // A member keeps its shard mates and a few others connected, not every peer it is given,
      // and stays off the fleet topic unless scouts summarise telemetry (docs/fleet.md).
      // Its connections are pinged every 30 s rather than libp2p's 10 s.
      ...(fleet === null
        ? {}
        : {
            bridges: FLEET_BRIDGES,
            fleetTopic: summariseMode(config.telemetry) === 'scouts',
            pingIntervalMs: FLEET_PING_INTERVAL_MS,
          }),
      metrics: createMeshMetrics(opts.registry),
      logger,
      clock: opts.clock,
    });
    this.shard = fleet === null ? null : this.fleetParts(fleet, opts.registry);
    this.driver = consensusWanted(config) ? this.consensus(opts) : null;
  }

  // Home shard topic, shard health and its gauges; a re-plan moves the node to its new shard.
  private fleetParts(fleet: FleetMembership, registry: Registry): ShardHealth {
    this.mesh.setHome(fleet.homeTopic());
    const health = new ShardHealth({
      membership: fleet,
      self: this.mesh.peerId,
      // Subscribed or grafted: gossipsub can hold a grafted mate whose subscription it has not recorded.
      subscribers: () => [...this.mesh.homeGossip.peers(), ...this.mesh.homeMeshPeers()],
      meshPeers: () => this.mesh.homeMeshPeers(),
    });
    createFleetMetrics(registry, health);
    fleet.onChange(() => {
      this.mesh.setMembers(fleet.members);
      this.mesh.setHome(fleet.homeTopic());
      this.driver?.replanned();
    });
    return health;
  }

  /**
   * Re-reads the member list (`consensus.members` and the members file) and re-plans the shards
   * (SIGHUP). Null without a fleet. Throws CONFIG_INVALID, keeping the current plan, when the
   * file cannot be read or a new shard could not reach its quorum.
   */
  reloadMembers(consensus: Config['consensus']): Replan | null {
    if (this.fleet === null) return null;
    const replan = this.fleet.update(readMembers(consensus));
    this.log.info(
      { ...replan },
      replan.changed ? 'members reloaded: shards re-planned' : 'members reloaded: no change',
    );
    return replan;
  }

  /** `/readyz`'s `shard` check: true, or why this node's shard cannot commit; undefined without a fleet. */
  shardReadiness(): true | string | undefined {
    return this.driver === null ? undefined : this.shard?.readiness();
  }

  /** The node's home shard for `GET /v1/status`; undefined without a fleet. */
  shardStatus(): ShardStatus | undefined {
    return this.shard?.status();
  }

  private consensus(opts: MeshWiringOptions): ConsensusDriver {
    const { config, logger } = opts;
    const driver = new ConsensusDriver({
      outbox: opts.outbox,
      // A fleet member's consensus runs on its home shard's topic; a cohort's on the fleet topic.
      gossip: this.fleet === null ? this.mesh : this.mesh.homeGossip,
      clock: opts.clock,
      logger: logger.child({ component: 'consensus' }),
      wakeCommitter: () => opts.committer.promoted(),
      emit: (event, data) => opts.events.publish(event, data),
      limits: {
        prefix: config.subjects.prefix,
        maxPayloadBytes: config.payloads.maxBytes,
        maxBatchItems: config.api.maxBatchItems,
      },
      ...(opts.externalise === undefined ? {} : { externalise: opts.externalise }),
      payloadBucket: config.payloads.bucket,
      ...(this.fleet === null
        ? { quorum: this.quorum ?? 1, cohort: config.consensus.cohort }
        : { membership: this.fleet }),
      policy: config.consensus.policy,
      ttlMs: config.consensus.ttlMs,
      takeoverMs: config.consensus.takeoverMs,
      lookupAfterMs: takeoverLookupAfterMs(config.streams),
      agentTimeoutMs: config.consensus.agentTimeoutMs,
      newId: opts.newId,
      randomHex: opts.randomHex,
      metrics: createConsensusMetrics(opts.registry),
      reader: opts.reader,
      scanSkewMs: config.commit.scanSkewMs,
      ...(opts.federation == null ? {} : { federation: opts.federation }),
    });
    opts.committer.on('intent:committed', (rows) => driver.onCommitted(rows));
    return driver;
  }

  /** Starts libp2p, then the driver (which reloads `proposed` rows and re-gossips its own). */
  async start(): Promise<void> {
    await this.mesh.start();
    this.driver?.start();
  }

  /** Stops the driver (sending queued batches), then libp2p. Safe twice. */
  async stop(): Promise<void> {
    await this.driver?.stop();
    await this.mesh.stop();
  }

  /** `view` with the endorsements collected so far while the intent is still `proposed`. */
  overlay(view: IntentView): IntentView {
    const held = view.state === 'proposed' ? this.driver?.endorsementsOf(view.correlationId) : undefined;
    return held === undefined ? view : { ...view, endorsements: held };
  }

  /** A status snapshot. */
  status(): Record<string, unknown> {
    return {
      peerId: this.mesh.peerId,
      addrs: this.mesh.multiaddrs(),
      peers: this.mesh.peers().length,
      meshPeers: this.mesh.meshPeers().length,
      ...(this.fleet === null
        ? {}
        : {
            homeTopic: this.mesh.homeTopic,
            homeMeshPeers: this.mesh.homeMeshPeers().length,
            homeSubscribers: this.mesh.homeGossip.peers().length,
          }),
      quorum: this.quorum ?? this.shard?.status().quorum ?? null,
      consensus: this.driver !== null,
      ...this.driver?.snapshot(),
    };
  }
}

function peerIdOf(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString();
}
