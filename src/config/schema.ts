/**
 * The one config schema. It validates the file (YAML or JSON), the env (`NET_SYNC_*`) and the
 * flags alike; every default carries the reason it was chosen. Durations are in ms, sizes in
 * bytes, after parsing. Each section lives in `schema/<section>.ts`; this file joins them and
 * holds the rules that span sections.
 */
import { z } from 'zod';
import { consensusEnabled } from '../core/consensus.js';
import { defaultStreams, StreamSpecSchema } from '../core/stream-spec.js';
import { ApiSchema } from './schema/api.js';
import { BufferSchema } from './schema/buffer.js';
import { CommitSchema } from './schema/commit.js';
import { ConsensusSchema, fleetConfigured } from './schema/consensus.js';
import { FederationSchema } from './schema/federation.js';
import { InboxSchema } from './schema/inbox.js';
import { LogSchema } from './schema/log.js';
import { MeshSchema } from './schema/mesh.js';
import { NatsSchema } from './schema/nats.js';
import { PayloadsSchema } from './schema/payloads.js';
import { SubjectsSchema } from './schema/subjects.js';
import { TelemetrySchema } from './schema/telemetry.js';

export { ApiSchema } from './schema/api.js';
export { BufferSchema, MIN_RETAIN_SETTLED_MS } from './schema/buffer.js';
export { CommitSchema } from './schema/commit.js';
export { ConsensusSchema, fleetConfigured } from './schema/consensus.js';
export { InboxSchema } from './schema/inbox.js';
export { LogSchema } from './schema/log.js';
export { MeshSchema } from './schema/mesh.js';
export { NatsSchema } from './schema/nats.js';
export { SubjectsSchema } from './schema/subjects.js';
export { type SummariseMode, summariseMode, TelemetrySchema } from './schema/telemetry.js';

/** The whole config. */
export const ConfigSchema = z
  .object({
    nats: NatsSchema.default(NatsSchema.parse({})),
    api: ApiSchema.default(ApiSchema.parse({})),
    buffer: BufferSchema.default(BufferSchema.parse({})),
    commit: CommitSchema.default(CommitSchema.parse({})),
    mesh: MeshSchema.default(MeshSchema.parse({})),
    consensus: ConsensusSchema.default(ConsensusSchema.parse({})),
    telemetry: TelemetrySchema.default(TelemetrySchema.parse({})),
    subjects: SubjectsSchema.default(SubjectsSchema.parse({})),
    log: LogSchema.default(LogSchema.parse({})),
    inbox: InboxSchema.default(InboxSchema.parse({})),
    /** Payloads above `inlineMaxBytes` go to an Object Store bucket by reference (docs/payloads.md). */
    payloads: PayloadsSchema.default(PayloadsSchema.parse({})),
    /** Signed events to partner organisations (docs/federation.md). Off without `federation.name`. */
    federation: FederationSchema.default(FederationSchema.parse({})),
    /** Declarative streams. Default: the root.solar taxonomy under `subjects.prefix`. */
    streams: z.array(StreamSpecSchema).optional(),
  })
  .strict()
  .refine(
    (c) =>
      !consensusEnabled(c.consensus.quorum, c.mesh.enabled) ||
      c.consensus.cohort.length > 0 ||
      fleetConfigured(c.consensus) ||
      c.consensus.openMembership,
    {
      message:
        'consensus.members (or consensus.membersFile) or consensus.cohort is required when consensus is on ' +
        '(mesh.enabled, or a quorum above 1): without them any peer that can dial the mesh may propose and endorse; ' +
        'list the members, or set consensus.openMembership: true to accept that',
      path: ['consensus', 'cohort'],
    },
  )
  .refine((c) => c.consensus.cohort.length === 0 || !fleetConfigured(c.consensus), {
    message:
      'set consensus.members (or consensus.membersFile) or consensus.cohort, not both: ' +
      'a cohort is one shard of a fleet',
    path: ['consensus', 'cohort'],
  })
  .refine(
    (c) =>
      !fleetConfigured(c.consensus) || c.consensus.quorum === 'majority' || c.consensus.quorum <= c.consensus.shardSize,
    {
      message: 'a count may not exceed consensus.shardSize: the quorum applies per shard',
      path: ['consensus', 'quorum'],
    },
  )
  .transform((c) => ({ ...c, streams: c.streams ?? defaultStreams(c.subjects.prefix) }));

/** The validated config every part receives a slice of. */
export type Config = z.output<typeof ConfigSchema>;
export type NatsConfig = Config['nats'];
export type ApiConfig = Config['api'];
export type BufferConfig = Config['buffer'];
export type CommitConfig = Config['commit'];
export type InboxConfig = Config['inbox'];
export type MeshConfig = Config['mesh'];
export type ConsensusConfig = Config['consensus'];
export type TelemetryConfig = Config['telemetry'];
export type { FederationConfig } from './schema/federation.js';
export type { PayloadsConfig } from './schema/payloads.js';

/** Config keys whose values are secrets, masked by `config print`. */
export const SECRET_KEYS: ReadonlyArray<string> = ['nats.pass', 'nats.token', 'api.token'];
