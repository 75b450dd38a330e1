/**
 * Federation's part of the composition root: the signing key (checked against
 * `federation.signers`: a sidecar whose key partners do not pin refuses to start, exit 2), the
 * intake behind `POST /v1/federation/events`, the receiver of partners' events (a durable
 * consumer per `receive` partner, the ledger of received events, the inbox's HTTP pusher) and
 * the reader of partners' receipts (a durable consumer per `send` partner, the ledger of
 * receipts). With consensus on, events go through the cohort: each endorser signs them with its
 * federation key ({@link CohortSigning}), and every member reads the receipts into its own ledger
 * (docs/federation.md); receiving partners' events stays off there.
 */
import type { PrivateKey } from '@libp2p/interface';
import { HttpAgentPusher } from '../agent/index.js';
import type { FederationBackend } from '../api/index.js';
import { SqliteAppliedAcks, type SqliteOutbox, SqliteReceivedEvents } from '../buffer/index.js';
import type { Config } from '../config/schema.js';
import { federationEnabled, federationKeyFile, signerIds, trustedKeys } from '../config/schema/federation.js';
import { ourThreshold } from '../config/federation-threshold.js';
import { NetSyncError } from '../core/errors.js';
import type { FederationStatus } from '../core/federation-receipt.js';
import type { DsseSigner } from '../core/federation-trust.js';
import { inboundSubjects, partnerSubjects } from '../core/federation-message.js';
import type { IntentState } from '../core/intent.js';
import type { Clock } from '../core/ports.js';
import type { Registry } from 'prom-client';
import type { OutboxCommitter } from '../commit/index.js';
import {
  type CohortEvent,
  CohortSigning,
  createFederationMetrics,
  FederationAcks,
  FederationIntake,
  FederationLedger,
  type FederationMetrics,
  FederationReceiver,
  type OurStoredEvents,
  registerFederationGauges,
} from '../federation/index.js';
import { identityPeerId, loadIdentity } from '../mesh/identity.js';
import { JetStreamInboxSource, type NatsConnector } from '../nats/index.js';
import type { Logger } from '../observability/logger.js';
import { ed25519Verifier } from '../runtime/ed25519-keys.js';
import { sha256HexNode } from '../runtime/sha256.js';
import { WorkerEd25519Signer } from '../runtime/worker-signer.js';
import { WorkerEd25519Verifier } from '../runtime/worker-verifier.js';
import { consensusWanted } from './mesh-wiring.js';

/** Wait before a member reads again a receipt of an event it does not hold yet (consensus on), ms. */
const UNKNOWN_EVENT_RETRY_MS = 2_000;

function refuse(message: string, cause?: unknown): NetSyncError {
  return new NetSyncError('CONFIG_INVALID', `federation.keyFile: ${message}`, { field: 'federation.keyFile', cause });
}

/**
 * The federation signer of this sidecar, or null while federation is off. Throws CONFIG_INVALID
 * naming `federation.keyFile` (exit 2) when the key cannot be read, is not Ed25519, or is not
 * among `federation.signers`.
 */
export async function loadFederationSigner(config: Config, meshKey: PrivateKey): Promise<DsseSigner | null> {
  if (!federationEnabled(config.federation)) return null;
  const file = federationKeyFile(config);
  let key = meshKey;
  if (file !== config.mesh.keyFile) {
    try {
      key = await loadIdentity(file);
    } catch (err) {
      throw refuse(`cannot read the federation key ${file}`, err);
    }
  }
  if (key.type !== 'Ed25519') throw refuse(`${file} is not an Ed25519 key`);
  const keyid = identityPeerId(key);
  const published = config.federation.signers.find((k) => k.id === keyid);
  if (published === undefined)
    throw refuse(`the key in ${file} (${keyid}) is not in federation.signers; partners would not trust it`);
  if (published.notAfter !== undefined && Date.parse(published.notAfter) <= Date.now())
    throw refuse(`the key in ${file} (${keyid}) is retired in federation.signers (notAfter ${published.notAfter})`);
  return new WorkerEd25519Signer(keyid, key.raw);
}

/** Collaborators of {@link buildFederation}. */
export interface FederationWiringOptions {
  config: Config;
  signer: DsseSigner | null;
  peerId: string;
  outbox: SqliteOutbox;
  connector: NatsConnector;
  clock: Clock;
  logger: Logger;
  newId: (nowMs: number) => string;
  randomHex: (bytes: number) => string;
  committer: OutboxCommitter;
  registry: Registry;
  /** Reads our stream back (consensus on: receipts of events a member does not hold as stored). */
  reader?: {
    scanAll(
      subject: string,
      sinceMs: number,
    ): AsyncIterable<{ msgId: string | undefined; data: Uint8Array; timeMs: number }>;
  };
  /** Consensus on: the driver that takes the events (bound late: the mesh is built after federation). */
  cohort?: () => { acceptEvent(e: CohortEvent): Promise<IntentState> } | null | undefined;
}

/** Durable names of this sidecar's federation consumers: `fed-`, the end of the peer ID, the direction, the partner. */
export function federationDurable(peerId: string, direction: 'events' | 'acks', partner: string): string {
  return `fed-${peerId.slice(-16)}-${direction}-${partner}`;
}

/**
 * Federation's parts: the intake, the ledger, and (when partners are configured) the receiver and the receipts reader.
 */
export class FederationWiring {
  constructor(
    readonly intake: FederationIntake,
    readonly receiver: FederationReceiver | null,
    readonly acks: FederationAcks | null,
    readonly ledger: FederationLedger,
    /** Consensus on: the endorsers' checks, signatures and verification; null otherwise. */
    readonly cohort: CohortSigning | null = null,
  ) {}

  /**
   * A commit the mesh announced (consensus on): a member's copy of an event committed by another
   * member's committer is now waiting for its receipt here too.
   */
  settled(correlationId: string, seq: number): void {
    this.ledger.committed([{ correlationId, seq }]);
  }

  /** Starts receiving partners' events and reading their receipts. */
  start(): void {
    this.receiver?.start();
    this.acks?.start();
  }

  /** Stops the consumers, then releases the signers. Safe twice. */
  async close(): Promise<void> {
    await this.receiver?.stop();
    await this.acks?.stop();
    await this.intake.close();
  }

  /** The API's view. */
  backend(): FederationBackend {
    return {
      acceptEvent: (body, tp, key) => this.intake.accept(body, tp, key),
      getEvent: (id) => {
        const view = this.intake.view(id);
        return view === undefined || this.acks === null ? view : this.acks.overlay(view);
      },
      partners: (partner) => this.ledger.status(partner),
    };
  }
}

/** Federation's parts, or null while federation is off. */
export function buildFederation(opts: FederationWiringOptions): FederationWiring | null {
  const { config, signer } = opts;
  if (signer === null || !federationEnabled(config.federation)) return null;
  const prefix = config.subjects.prefix;
  const metrics = createFederationMetrics(opts.registry);
  const sendSubjects = config.federation.partners
    .filter((p) => p.send)
    .map((p) => [p.name, partnerSubjects(prefix, p).events] as const);
  const withCohort = consensusWanted(config);
  const cohort = withCohort
    ? new CohortSigning({
        rules: {
          us: config.federation.name,
          partners: new Map(sendSubjects),
          // The agent's payload plus the event's own fields (IDs, names, times: well under 1 KiB).
          maxTextBytes: config.api.maxPayloadBytes + 1_024,
        },
        signer,
        verifier: ed25519Verifier,
        signers: signerIds(config.federation),
      })
    : null;
  const intake = new FederationIntake({
    outbox: opts.outbox,
    clock: opts.clock,
    name: config.federation.name,
    origin: opts.peerId,
    partners: sendSubjects.map(([name, eventsSubject]) => ({ name, eventsSubject })),
    maxPayloadBytes: config.api.maxPayloadBytes,
    signers: [signer],
    newId: opts.newId,
    randomHex: opts.randomHex,
    onAccepted: () => opts.committer.wake(),
    metrics,
    ...(withCohort ? { cohort: (e: CohortEvent) => acceptByCohort(opts, e) } : {}),
  });
  const receiver = withCohort ? noReceiverWithCohort(opts) : buildReceiver(opts, signer, metrics);
  const appliedAcks = new SqliteAppliedAcks(opts.outbox.database, config.buffer.synchronous);
  let ledger: FederationLedger | undefined;
  const acks = buildAcks(opts, metrics, appliedAcks, (eventId) => ledger?.acked(eventId));
  const partners = config.federation.partners;
  ledger = new FederationLedger({
    partners: partners.map((p) => ({ name: p.name, send: p.send, receive: p.receive })),
    outbox: opts.outbox,
    acks: appliedAcks,
    received: receiver === null ? null : new SqliteReceivedEvents(opts.outbox.database, config.buffer.synchronous),
    ackTimeoutMs: config.federation.ackTimeoutMs,
    clock: opts.clock,
    acksRefused: (p) => acks?.refusedCount(p) ?? 0,
    refused: (p) => receiver?.tally(p).refused ?? 0,
  });
  const tracked = ledger;
  registerFederationGauges(
    opts.registry,
    partners.filter((p) => p.send).map((p) => p.name),
    (p) => tracked.waiting(p),
  );
  opts.committer.on('intent:committed', (rows) => {
    intake.committed(rows);
    tracked.committed(rows);
  });
  return new FederationWiring(intake, receiver, acks, ledger, cohort);
}

function acceptByCohort(opts: FederationWiringOptions, e: CohortEvent): Promise<IntentState> {
  const driver = opts.cohort?.();
  if (driver == null)
    return Promise.reject(new NetSyncError('INTERNAL', 'consensus is on but its driver is not running'));
  return driver.acceptEvent(e);
}

// Receiving with consensus on is not built yet: each member would push and receipt every event.
function noReceiverWithCohort(opts: FederationWiringOptions): null {
  const receive = opts.config.federation.partners.filter((p) => p.receive).map((p) => p.name);
  if (receive.length > 0)
    opts.logger.warn(
      { partners: receive },
      "receiving partners' events with consensus on is not supported yet: receive partners are not read",
    );
  return null;
}

function consumer(
  opts: FederationWiringOptions,
  subject: string,
  durable: string,
  log: Logger,
  maxAckPending = opts.config.inbox.maxAckPending,
): JetStreamInboxSource {
  const ic = opts.config.inbox;
  return new JetStreamInboxSource({
    connector: opts.connector,
    subjects: [subject],
    durable,
    ackWaitMs: ic.ackWaitMs,
    maxDeliver: ic.maxDeliver,
    maxAckPending,
    deliverPolicy: 'all',
    logger: log,
  });
}

// Receiving needs somewhere to push: without `federation.pushUrl` it stays off (and says so),
// rather than receipt events no agent will see.
function buildReceiver(
  opts: FederationWiringOptions,
  signer: DsseSigner,
  metrics: FederationMetrics,
): FederationReceiver | null {
  const { config } = opts;
  const f = config.federation;
  const us = f.name!;
  const partners = f.partners.filter((p) => p.receive);
  if (partners.length === 0) return null;
  const log = opts.logger.child({ component: 'federation-receiver' });
  if (f.pushUrl === undefined) {
    log.warn(
      { partners: partners.map((p) => p.name) },
      'federation.pushUrl is unset: events from receive partners are not read (no receipts, the partners see gaps)',
    );
    return null;
  }
  const prefix = config.subjects.prefix;
  const http = new HttpAgentPusher({ url: f.pushUrl });
  const ic = config.inbox;
  return new FederationReceiver({
    partners: partners.map((p) => {
      const subjects = inboundSubjects(prefix, us, p);
      return {
        name: p.name,
        keys: trustedKeys(p),
        threshold: p.threshold,
        source: consumer(opts, subjects.events, federationDurable(opts.peerId, 'events', p.name), log, f.maxAckPending),
        acksSubject: subjects.acks,
      };
    }),
    us,
    origin: opts.peerId,
    received: new SqliteReceivedEvents(opts.outbox.database, config.buffer.synchronous),
    outbox: opts.outbox,
    signers: [signer],
    // Off the event loop: two or more verifications an event (docs/benchmarks.md, row g).
    verifier: new WorkerEd25519Verifier(),
    sha256: sha256HexNode,
    pusher: { push: (event, headers, signal) => http.push(event, headers, signal) },
    settings: {
      ackWaitMs: ic.ackWaitMs,
      maxDeliver: ic.maxDeliver,
      maxAckPending: f.maxAckPending,
      maxPushes: ic.maxAckPending,
      backoffMs: ic.backoffMs,
      processingTimeoutMs: ic.processingTimeoutMs,
    },
    clock: opts.clock,
    logger: log,
    randomHex: opts.randomHex,
    onReceipt: () => opts.committer.wake(),
    metrics,
  });
}

function buildAcks(
  opts: FederationWiringOptions,
  metrics: FederationMetrics,
  applied: SqliteAppliedAcks,
  onApplied: (eventId: string) => void,
): FederationAcks | null {
  const { config } = opts;
  const partners = config.federation.partners.filter((p) => p.send);
  if (partners.length === 0) return null;
  const log = opts.logger.child({ component: 'federation-acks' });
  const prefix = config.subjects.prefix;
  return new FederationAcks({
    partners: partners.map((p) => ({
      name: p.name,
      keys: trustedKeys(p),
      threshold: p.threshold,
      source: consumer(opts, partnerSubjects(prefix, p).acks, federationDurable(opts.peerId, 'acks', p.name), log),
      eventsSubject: partnerSubjects(prefix, p).events,
    })),
    us: config.federation.name!,
    outbox: opts.outbox,
    acks: applied,
    verifier: ed25519Verifier,
    sha256: sha256HexNode,
    concurrency: config.inbox.maxAckPending,
    clock: opts.clock,
    logger: log,
    metrics,
    onApplied,
    // A member may read a receipt before the event's proposal reached it: look again a little later.
    ...(consensusWanted(config)
      ? { unknownEventRetry: { delayMs: UNKNOWN_EVENT_RETRY_MS, maxDeliver: config.inbox.maxDeliver } }
      : {}),
    // ...and one it never holds (or holds with another digest) is checked against our stream.
    ...(consensusWanted(config) && opts.reader !== undefined ? { stored: storedEvents(opts, opts.reader) } : {}),
  });
}

// Our events as the stream stored them: the first message under an ID on a partner's events subject.
function storedEvents(
  opts: FederationWiringOptions,
  reader: NonNullable<FederationWiringOptions['reader']>,
): OurStoredEvents {
  return {
    signers: trustedKeys({ keys: opts.config.federation.signers }),
    threshold: ourThreshold(opts.config),
    first: async (subject, msgId, sinceMs) => {
      for await (const m of reader.scanAll(subject, sinceMs))
        if (m.msgId === msgId) return { data: m.data, timeMs: m.timeMs };
      return undefined;
    },
  };
}

/** The API's view of federation. */
export function federationBackend(federation: FederationWiring): FederationBackend {
  return federation.backend();
}

/**
 * The ledger read offline from an outbox file (for `net-sync reconcile`): committed events
 * without a receipt, receipts applied, gaps after `federation.ackTimeoutMs`. Undefined while
 * federation is off or no partner is sent to.
 */
export function offlineFederationStatus(
  config: Config,
  outbox: SqliteOutbox,
  clock: Clock,
): FederationStatus | undefined {
  if (!federationEnabled(config.federation)) return undefined;
  const partners = config.federation.partners.filter((p) => p.send);
  if (partners.length === 0) return undefined;
  const ledger = new FederationLedger({
    partners: partners.map((p) => ({ name: p.name, send: p.send, receive: p.receive })),
    outbox,
    acks: new SqliteAppliedAcks(outbox.database, config.buffer.synchronous),
    received: null,
    ackTimeoutMs: config.federation.ackTimeoutMs,
    clock,
    acksRefused: () => 0,
    refused: () => 0,
  });
  return ledger.status();
}
