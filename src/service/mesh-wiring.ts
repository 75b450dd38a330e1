/**
 * The mesh and consensus half of the composition root: the libp2p node, the consensus driver,
 * and their hooks into the committer and the API. Built by the Sidecar when the mesh is wanted
 * (see {@link meshWanted}); the driver only when consensus is on (`mesh.enabled`, or a quorum
 * above 1). Starts after the outbox and the committer, stops before them.
 */
import type { PrivateKey } from '@libp2p/interface';
import type { Registry } from 'prom-client';
import type { IntentView } from '../api/index.js';
import { ConsensusDriver } from '../bridge/consensus-driver.js';
import { createConsensusMetrics } from '../bridge/consensus-metrics.js';
import type { OutboxCommitter } from '../bridge/outbox-committer.js';
import type { Config } from '../config/schema.js';
import { consensusEnabled, resolveQuorum } from '../core/consensus.js';
import type { Clock, Outbox, StreamReader } from '../core/ports.js';
import { createMeshMetrics, MeshNode } from '../mesh/index.js';
import type { Logger } from '../observability/logger.js';

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
}

/** True when `config` asks for consensus (and so for the mesh). */
export function consensusWanted(config: Config): boolean {
  return consensusEnabled(config.consensus.quorum, config.mesh.enabled);
}

/**
 * True when this node joins a libp2p mesh: for consensus, and also whenever the config says it
 * has peers (static or bootstrap) or is a telemetry scout, whose job is to hear the mesh. Such a
 * node gossips telemetry; with quorum 1 and `mesh.enabled` unset, its intents still go straight
 * to `pending-commit` (consensus off).
 */
export function meshWanted(config: Config): boolean {
  const m = config.mesh;
  return consensusWanted(config) || m.peers.length > 0 || m.bootstrap.length > 0 || config.telemetry.scout;
}

/** The mesh node and, when consensus is on, the consensus driver, wired. */
export class MeshWiring {
  readonly mesh: MeshNode;
  /** Null when consensus is off: the mesh then carries telemetry only. */
  readonly driver: ConsensusDriver | null;
  private readonly quorum: number;

  /** Throws CONFIG_INVALID naming `consensus.quorum` when the quorum cannot be met. */
  constructor(opts: MeshWiringOptions) {
    const { config, logger } = opts;
    this.quorum = resolveQuorum(config.consensus.quorum, config.consensus.cohort);
    this.mesh = new MeshNode({
      privateKey: opts.privateKey,
      config: config.mesh,
      telemetryColumns: config.telemetry.wireColumns,
      redialBackoff: { baseMs: 1_000, maxMs: config.mesh.redialMaxMs, minMs: 250 },
      cohort: config.consensus.cohort,
      metrics: createMeshMetrics(opts.registry),
      logger,
      clock: opts.clock,
    });
    this.driver = consensusWanted(config) ? this.consensus(opts) : null;
  }

  private consensus(opts: MeshWiringOptions): ConsensusDriver {
    const { config, logger } = opts;
    const driver = new ConsensusDriver({
      outbox: opts.outbox,
      gossip: this.mesh,
      clock: opts.clock,
      logger: logger.child({ component: 'consensus' }),
      wakeCommitter: () => opts.committer.promoted(),
      emit: (event, data) => opts.events.publish(event, data),
      limits: { prefix: config.subjects.prefix, maxPayloadBytes: config.api.maxPayloadBytes },
      quorum: this.quorum,
      cohort: config.consensus.cohort,
      policy: config.consensus.policy,
      ttlMs: config.consensus.ttlMs,
      takeoverMs: config.consensus.takeoverMs,
      agentTimeoutMs: config.consensus.agentTimeoutMs,
      newId: opts.newId,
      randomHex: opts.randomHex,
      metrics: createConsensusMetrics(opts.registry),
      reader: opts.reader,
      scanSkewMs: config.commit.scanSkewMs,
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
      quorum: this.quorum,
      consensus: this.driver !== null,
      ...this.driver?.snapshot(),
    };
  }
}
