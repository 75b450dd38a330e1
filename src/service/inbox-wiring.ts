/**
 * Wires the inbox: the durable consumers (NATS), the applied-command records (the outbox file),
 * the agent's endpoint (HTTP) or the pull API, verification against this node's cohort and
 * quorum, and dead-letter notices through the outbox.
 */
import { HttpAgentPusher } from '../agent/index.js';
import { SqliteAppliedCommands, type SqliteOutbox } from '../buffer/index.js';
import type { Config } from '../config/schema.js';
import { verifyCommit } from '../core/commit-verification.js';
import { buildDeliveryDeadLetterRow, serverMaxDeliver } from '../core/inbox.js';
import type { PayloadRef } from '../core/payload-ref.js';
import type { Clock } from '../core/ports.js';
import { createInboxMetrics, InboxService, type InboxVerification } from '../inbox/index.js';
import { verifyPeerSignature } from '../mesh/peer-signature.js';
import { JetStreamInboxSource, type NatsConnector } from '../nats/index.js';
import type { Logger } from '../observability/logger.js';
import type { Registry } from 'prom-client';
import { deadLetterNotices } from './dead-letters.js';
import { consensusWanted } from './mesh-wiring.js';

/** What the inbox is built from. */
export interface InboxWiringOptions {
  config: Config;
  peerId: string;
  outbox: SqliteOutbox;
  connector: NatsConnector;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  /** Wakes the committer after a notice was stored. */
  wakeCommitter: () => void;
  /** Fetches a command's payload stored by reference; absent or `inbox.resolvePayloads: false`: not resolved. */
  resolvePayload?: (ref: PayloadRef) => Promise<unknown>;
  /** The fleet's current member list (it may be reloaded), when `consensus.members` configures a fleet. */
  members?: () => readonly string[] | undefined;
}

/** The default durable name: `net-sync-` and the end of the peer ID (unique per sidecar). */
export function defaultInboxDurable(peerId: string): string {
  return `net-sync-${peerId.slice(-16)}`;
}

/** Builds the inbox, or null when `inbox.subjects` is empty. */
export function buildInbox(opts: InboxWiringOptions): { service: InboxService; source: JetStreamInboxSource } | null {
  const { config, logger } = opts;
  const ic = config.inbox;
  if (ic.subjects.length === 0) return null;
  const log = logger.child({ component: 'inbox' });
  const source = new JetStreamInboxSource({
    connector: opts.connector,
    subjects: ic.subjects,
    durable: ic.durable ?? defaultInboxDurable(opts.peerId),
    ackWaitMs: ic.ackWaitMs,
    // One delivery more than the sidecar allows the agent: the backstop that brings a command back
    // to a sidecar when the one holding its last delivery died (docs/inbox.md).
    maxDeliver: serverMaxDeliver(ic.maxDeliver),
    maxAckPending: ic.maxAckPending,
    deliverPolicy: ic.deliverPolicy,
    logger: log,
  });
  const prefix = config.subjects.prefix;
  // Notices go out only when a stream captures them, as the outbox's own (service/dead-letters.ts).
  const noticesCaptured = deadLetterNotices(config) !== undefined;
  const service = new InboxService({
    source,
    applied: new SqliteAppliedCommands(opts.outbox.database, config.buffer.synchronous),
    pusher: ic.pushUrl === undefined ? null : new HttpAgentPusher({ url: ic.pushUrl }),
    storeNotice: noticesCaptured
      ? async (row) => {
          await opts.outbox.append([row]);
          opts.wakeCommitter();
        }
      : null,
    hasNotice: noticesCaptured ? (id) => opts.outbox.get(id) !== undefined : () => false,
    notice: (m, consumer, reason, atMs) => buildDeliveryDeadLetterRow(m, consumer, reason, atMs, prefix),
    verify: ic.verify && consensusWanted(config) ? verifier(config, opts.members) : null,
    resolvePayload: ic.resolvePayloads ? (opts.resolvePayload ?? null) : null,
    settings: {
      ackWaitMs: ic.ackWaitMs,
      maxDeliver: ic.maxDeliver,
      maxAckPending: ic.maxAckPending,
      backoffMs: ic.backoffMs,
      processingTimeoutMs: ic.processingTimeoutMs,
      retainMs: config.buffer.retainSettledMs,
    },
    clock: opts.clock,
    logger: log,
    metrics: createInboxMetrics(opts.registry, () => source.lag()),
  });
  return { service, source };
}

// Endorsements checked against this node's own cohort and quorum, as `net-sync verify` does; in a
// fleet, against the shard the command names, re-planned from the current member list.
function verifier(
  config: Config,
  members?: () => readonly string[] | undefined,
): (d: { data: Uint8Array; headers: Readonly<Record<string, string>> }) => Promise<InboxVerification> {
  const { cohort, shardSize } = config.consensus;
  return async (d) => {
    const fleet = members?.();
    const scope =
      fleet !== undefined && fleet.length > 0 ? { members: fleet, shardSize } : cohort.length > 0 ? { cohort } : {};
    const v = await verifyCommit(
      { body: d.data, headers: d.headers },
      { verify: verifyPeerSignature, quorum: config.consensus.quorum, ...scope },
    );
    return { ok: v.ok, reason: [...new Set(v.problems.map((p) => p.code))].join(',') || 'ok' };
  };
}
