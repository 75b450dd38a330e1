/**
 * Federation's part of the composition root: the signing key (checked against
 * `federation.signers`: a sidecar whose key partners do not pin refuses to start, exit 2), and
 * the intake behind `POST /v1/federation/events`. Consensus signing by the cohort is still to
 * come, so with consensus on federation stays off (docs/federation.md).
 */
import type { PrivateKey } from '@libp2p/interface';
import type { FederationBackend } from '../api/index.js';
import type { Config } from '../config/schema.js';
import { federationEnabled, federationKeyFile } from '../config/federation-schema.js';
import { NetSyncError } from '../core/errors.js';
import type { DsseSigner } from '../core/federation-trust.js';
import { partnerSubjects } from '../core/federation-message.js';
import type { Clock, Outbox } from '../core/ports.js';
import type { Registry } from 'prom-client';
import type { OutboxCommitter } from '../commit/index.js';
import { createFederationMetrics, FederationIntake } from '../federation/index.js';
import { identityPeerId, loadIdentity } from '../mesh/identity.js';
import type { Logger } from '../observability/logger.js';
import { WorkerEd25519Signer } from '../runtime/worker-signer.js';
import { consensusWanted } from './mesh-wiring.js';

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
  if (!config.federation.signers.includes(keyid))
    throw refuse(`the key in ${file} (${keyid}) is not in federation.signers; partners would not trust it`);
  return new WorkerEd25519Signer(keyid, key.raw);
}

/** Collaborators of {@link buildFederation}. */
export interface FederationWiringOptions {
  config: Config;
  signer: DsseSigner | null;
  peerId: string;
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
  newId: (nowMs: number) => string;
  randomHex: (bytes: number) => string;
  committer: OutboxCommitter;
  registry: Registry;
}

/** Federation's intake, or null while federation is off (or consensus is on: not yet supported). */
export function buildFederation(opts: FederationWiringOptions): FederationIntake | null {
  const { config, signer } = opts;
  if (signer === null || !federationEnabled(config.federation)) return null;
  if (consensusWanted(config)) {
    opts.logger.warn(
      { name: config.federation.name },
      'federation with consensus on is not implemented yet (events must carry the cohort quorum): federation routes are off',
    );
    void signer.close?.();
    return null;
  }
  const prefix = config.subjects.prefix;
  const intake = new FederationIntake({
    outbox: opts.outbox,
    clock: opts.clock,
    name: config.federation.name,
    origin: opts.peerId,
    partners: config.federation.partners
      .filter((p) => p.send)
      .map((p) => ({ name: p.name, eventsSubject: partnerSubjects(prefix, p).events })),
    maxPayloadBytes: config.api.maxPayloadBytes,
    signers: [signer],
    newId: opts.newId,
    randomHex: opts.randomHex,
    onAccepted: () => opts.committer.wake(),
    metrics: createFederationMetrics(opts.registry),
  });
  opts.committer.on('intent:committed', (rows) => intake.committed(rows.map((r) => r.correlationId)));
  return intake;
}

/** The API's view of the intake. */
export function federationBackend(intake: FederationIntake): FederationBackend {
  return {
    acceptEvent: (body, tp, key) => intake.accept(body, tp, key),
    getEvent: (id) => intake.view(id),
  };
}
