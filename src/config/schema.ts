/**
 * The one config schema. It validates the file (YAML or JSON), the env (`NET_SYNC_*`) and the
 * flags alike; every default carries the reason it was chosen. Durations are in ms, sizes in
 * bytes, after parsing.
 */
import { z } from 'zod';
import { consensusEnabled } from '../core/consensus.js';
import { MAX_INTENT_TTL_MS } from '../core/intent.js';
import { defaultStreams, StreamSpecSchema } from '../core/stream-spec.js';
import { zBytes, zDurationMs } from '../core/units.js';
import { FederationSchema } from './federation-schema.js';
import { PayloadsSchema } from './payloads-schema.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7654');
// nats.js on Node speaks TCP only: a ws:// URL would be dialled as TCP and fail on every attempt.
const natsUrl = z
  .string()
  .refine(
    (s) => !/^wss?:\/\//i.test(s),
    'ws:// and wss:// are not supported (the client speaks TCP): use nats:// or tls://',
  )
  .refine((s) => /^(nats|tls):\/\/[^\s]+$/.test(s), 'must be a NATS URL, e.g. nats://127.0.0.1:4222');
const positiveMs = (name: string) => zDurationMs.refine((v) => v > 0, `${name} must be above 0`);
const multiaddr = z.string().regex(/^\/(ip4|ip6|dns4|dns6|dns)\/[^\s]+$/, 'not a multiaddr');
const peerAddr = multiaddr.refine((s) => /\/p2p\/[A-Za-z0-9]+$/.test(s), 'must end in /p2p/<peerId>');

export const NatsSchema = z
  .object({
    /** Server URLs of one cluster. Default: the local server the demo and dev setups run. */
    servers: z.array(natsUrl).min(1).default(['nats://127.0.0.1:4222']),
    /** Connection name shown in the server's monitoring (`connz`). */
    name: z.string().default('net-sync'),
    /** User/password auth. */
    user: z.string().optional(),
    /** Secret: masked by `config print`. */
    pass: z.string().optional(),
    /** Token auth. Secret. */
    token: z.string().optional(),
    /** Path to an NKey seed file (`SU...`). */
    nkeySeedFile: z.string().optional(),
    /** Path to a `.creds` file (JWT + seed). */
    credsFile: z.string().optional(),
    /** TLS to the server. Enabled when any field is set or a URL uses tls://. */
    tls: z
      .object({
        caFile: z.string().optional(),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
      })
      .strict()
      .default({}),
    /**
     * Base wait between reconnect attempts (our own loop, nats-connector.ts). 250 ms, not nats.js'
     * 2 s: the wait is the replay's head start after an outage (issue 15: first replayed commit
     * within 1 s of NATS returning), and a refused dial costs the server next to nothing.
     */
    reconnectWaitMs: zDurationMs.default(250),
    /** Jitter added to each reconnect wait, so a fleet does not reconnect in lockstep. */
    reconnectJitterMs: zDurationMs.default(250),
    /** PubAck wait. 5 s is nats.js' default and seed 000's ack budget (docs/seeds.md). */
    publishTimeoutMs: zDurationMs.default(5_000),
  })
  .strict();

export const ApiSchema = z
  .object({
    /** Loopback by default: the API is for the local agent only. */
    listen: hostPort.default('127.0.0.1:7654'),
    /** Optional bearer token required on every route but /healthz. Secret. */
    token: z.string().optional(),
    /**
     * Host names (or host:port) the API answers besides loopback and the listen address. Without a
     * token, a request naming any other Host, or carrying a foreign Origin, gets 403: a web page
     * whose name resolves to 127.0.0.1 (DNS rebinding) cannot post intents.
     */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** Largest agent payload accepted (JSON bytes). 64 KiB keeps one intent in one gossip frame. */
    maxPayloadBytes: zBytes.default(65_536),
    /** Period of the status samples (page charts, recent lag): 5 s keeps 10 min in 120 samples. */
    statusSampleMs: zDurationMs.default(5_000),
    /**
     * Time a client has to send a request's headers, from its connection. An agent on loopback
     * needs well under a millisecond; 10 s still serves one on a loaded host, and cuts off a
     * client that connects and sends nothing, or trickles its headers (slowloris).
     */
    headersTimeoutMs: positiveMs('a timeout').default(10_000),
    /** Time to send a whole request, body included: 30 s carries the largest body at ~10 KiB/s. */
    requestTimeoutMs: positiveMs('a timeout').default(30_000),
    /** An idle keep-alive connection closes after this: 5 s (Node's default) spans an agent's bursts. */
    keepAliveTimeoutMs: positiveMs('a timeout').default(5_000),
    /**
     * Open API connections at once, SSE streams and inbox long polls included; past it a new one is
     * closed unanswered. A local agent needs a handful; 256 keeps a flood well under the usual
     * limit of 1,024 open files, which SQLite, NATS and the mesh share.
     */
    maxConnections: z.number().int().positive().default(256),
    /**
     * Most intents in one batch `POST /v1/intents` (a JSON array); more is 413 naming this key. 1,000 is
     * one group-commit transaction (`buffer.groupCommitMaxRows`' default), about 35 ms of work here.
     */
    maxBatchItems: z.number().int().positive().max(100_000).default(1_000),
    /**
     * Largest batch body in bytes; larger is 413 naming this key. A batch is parsed and validated in one
     * event-loop turn: 4 MiB (about 40 ms) keeps other requests waiting no longer than a group commit.
     */
    maxBatchBytes: zBytes.default(4 * 1_024 * 1_024),
  })
  .strict()
  .refine((a) => a.headersTimeoutMs <= a.requestTimeoutMs, {
    message: 'must be at most api.requestTimeoutMs',
    path: ['headersTimeoutMs'],
  });

/** Shortest non-zero `buffer.retainSettledMs`: the longest intent TTL plus an hour of clock skew. */
export const MIN_RETAIN_SETTLED_MS = MAX_INTENT_TTL_MS + 3_600_000;

export const BufferSchema = z
  .object({
    /** SQLite outbox file. Relative to the working directory. */
    path: z.string().min(1).default('./net-sync.db'),
    /** FULL: an accepted intent survives power loss, not just a process crash. */
    synchronous: z.enum(['FULL', 'NORMAL', 'EXTRA']).default('FULL'),
    /** Rows per group-commit transaction; bounds the latency one batch adds. */
    groupCommitMaxRows: z.number().int().positive().default(1_000),
    /**
     * Cap on buffered telemetry rows; past it the oldest telemetry is dropped and counted. Intents are never dropped.
     */
    telemetryCap: z.number().int().positive().default(100_000),
    /**
     * Settled rows (committed, expired, rejected) are deleted this long after they settled;
     * 0 keeps them forever. Two days: a day of history for `reconcile --verify` and intent
     * lookups, on top of the longest intent TTL (24 h), so a late copy of a proposal is refused
     * as expired before its ID can be forgotten. The floor adds an hour for the proposer's clock
     * running ahead. Dead rows are never pruned.
     */
    retainSettledMs: zDurationMs
      .refine(
        (v) => v === 0 || v >= MIN_RETAIN_SETTLED_MS,
        `must be 0 (keep forever) or at least ${MIN_RETAIN_SETTLED_MS / 3_600_000} h (the longest intent TTL, 24 h, plus 1 h of clock skew)`,
      )
      .default(2 * 86_400_000),
  })
  .strict();

export const CommitSchema = z
  .object({
    /** PubAcks in flight at once. 1,024 matches the raw baseline we compare against. */
    window: z.number().int().positive().default(1_024),
    /** Rows claimed per round. */
    batchRows: z.number().int().positive().default(512),
    /** First retry delay after NATS fails. */
    backoffBaseMs: zDurationMs.default(100),
    /** Longest delay between retries while NATS is away: short enough to replay promptly. */
    backoffMaxMs: zDurationMs.default(5_000),
    /**
     * Wall-clock slack subtracted from a row's first attempt time when scanning the stream
     * for it, to cover clock skew between this host and the server.
     */
    scanSkewMs: zDurationMs.default(5_000),
    /**
     * Accept WorkQueue or Interest streams on our subjects. They delete what was consumed, so a
     * row whose PubAck was lost cannot be looked up and is republished: exactly once then holds
     * only within the stream's duplicate window (which must be at least 10 min). Off: such a
     * stream stops the sidecar (exit 2, naming it).
     */
    dedupeOnlyWithinDuplicateWindow: z.boolean().default(false),
  })
  .strict();

export const MeshSchema = z
  .object({
    /**
     * Consensus over the mesh even at quorum 1: intents are proposed and endorsed, so peers hold
     * copies. Off by default: a single node is its own quorum. The mesh itself also runs (for a
     * quorum above 1, and) for telemetry with `telemetry.summarise: scouts` when `peers`,
     * `bootstrap` or `telemetry.scout` is set; then intents still skip consensus unless this is
     * on or the quorum is above 1.
     */
    enabled: z.boolean().default(false),
    /** Listen multiaddrs. Loopback, ephemeral port by default. */
    listen: z.array(multiaddr).default(['/ip4/127.0.0.1/tcp/0']),
    /** Addresses announced to peers instead of the listen ones (e.g. a proxy). */
    announce: z.array(multiaddr).default([]),
    /** Static peers, kept connected with redial and backoff. */
    peers: z.array(peerAddr).default([]),
    /**
     * Longest wait between redials of a lost static peer (from 1 s, doubling, full jitter). 10 s:
     * after a partition heals, each side redials within 10 s (plus a dial still hanging, up to its
     * 10 s timeout), for a dial every ~5 s on average per absent peer. 1 s to 10 min.
     */
    redialMaxMs: zDurationMs
      .default(10_000)
      .refine((v) => v >= 1_000 && v <= 600_000, 'must be between 1 s and 10 min'),
    /** Optional bootstrap list (dialled at start). */
    bootstrap: z.array(peerAddr).default([]),
    /**
     * mDNS discovery: not supported (production meshes are configured explicitly, and
     * @libp2p/mdns is not a dependency), so `true` is refused here rather than ignored.
     */
    mdns: z
      .boolean()
      .default(false)
      .refine((v) => !v, 'mDNS discovery is not supported: list the peers in mesh.peers or mesh.bootstrap'),
    /** Ed25519 identity file (protobuf), mode 0600. Created on first start if missing. */
    keyFile: z.string().default('./net-sync.key'),
    /** Gossip topic for intents. */
    topic: z.string().default('/root-solar/sentiment/1.0.0'),
  })
  .strict();

export const ConsensusSchema = z
  .object({
    /**
     * Endorsements needed: a count, or `majority` of the cohort, or per home shard in a fleet
     * (`members`), where a count may not exceed a shard. 1 = the node alone.
     */
    quorum: z.union([z.number().int().positive(), z.literal('majority')]).default(1),
    /**
     * Peer IDs allowed to propose and endorse, all of them endorsing every intent: one shard.
     * Required when consensus is on, unless `members` (a fleet) or `openMembership`.
     */
    cohort: z.array(z.string()).default([]),
    /**
     * The fleet: peer IDs that may propose, relay and send telemetry. Each member's intents are
     * endorsed and committed by its home shard (docs/fleet.md). Env: comma-separated.
     */
    members: z.array(z.string().min(1)).default([]),
    /**
     * File of more members, one peer ID per line (`#` starts a comment), read at start and again
     * on SIGHUP, so members join or leave without a fleet-wide restart.
     */
    membersFile: z.string().min(1).optional(),
    /**
     * Members per home shard (the fleet forms max(1, ⌊members ÷ shardSize⌋) shards). 7: with a
     * majority quorum of 4 a shard commits with 3 of its members down, while a host carries about 7
     * members' intents, not the fleet's (issue 21's capacity model).
     */
    shardSize: z.number().int().positive().default(7),
    /**
     * Consensus without a cohort: any peer that can dial the mesh may propose and endorse, so a
     * few fresh identities can carry their own intents to quorum. Off: a cohort is required.
     */
    openMembership: z.boolean().default(false),
    /** Endorsement policy: auto (schema + allow-list) or agent (asked over SSE). */
    policy: z.enum(['auto', 'agent']).default('auto'),
    /** How long an intent may wait for quorum before it expires. */
    ttlMs: zDurationMs.default(60_000),
    /**
     * Wait before the next-ranked endorser takes over the commit: rank k after k × this. 500 ms
     * keeps a dead committer inside seed 001's 500 ms-to-1 s commit budget; a live but slow one
     * costs only the taker's stream lookup, since it reads the stream before any publish.
     */
    takeoverMs: zDurationMs.default(500),
    /** How long the agent has to answer under `policy: agent`; silence is an abstention. */
    agentTimeoutMs: zDurationMs.default(2_000),
  })
  .strict();

export const TelemetrySchema = z
  .object({
    /**
     * Who summarises this node's agent's points (docs/telemetry.md). `origin`: this sidecar, into
     * the same windows, `Nats-Msg-Id`s and bodies a scout produces; nothing telemetry goes on the
     * mesh, so a fleet member pays nothing for the others' telemetry. `scouts`: the scout protocol
     * on its own topic (`<mesh.topic>/telemetry`): batches and heartbeats to the scouts. Unset:
     * `scouts` where `telemetry.scout` is true, else `origin` (see {@link summariseMode}).
     */
    summarise: z.enum(['origin', 'scouts']).optional(),
    /** Act as an observability scout (summarise telemetry gossip into NATS); implies `summarise: scouts`. */
    scout: z.boolean().default(false),
    /** Burst window length. */
    windowMs: zDurationMs.default(1_000),
    /** A window also flushes after this many points. */
    windowMaxPoints: z.number().int().positive().default(100_000),
    /** How often the agent's points are batched into one gossip message. */
    batchMs: zDurationMs.default(100),
    /** Period of peer health and pipeline lag reports. */
    healthIntervalMs: zDurationMs.default(10_000),
    /**
     * How long after its end a window still takes points at the origin; older points are
     * summarised apart as `late`. 500 ms covers a point made at the very end of a window and
     * held up to `batchMs` (100 ms) before it is sent, with room for a slow event loop.
     */
    allowedLatenessMs: zDurationMs.default(500),
    /**
     * Extra wait before a scout closes a window, covering gossip latency and clock skew between
     * origin and scout. Gossip p99 is ~50 ms at moderate load (docs/libp2p.md); NTP keeps hosts
     * within tens of ms. 500 ms leaves room for a loaded mesh. A window then waits until the
     * scout holds every batch of it (origins announce their last batch in heartbeats); only for
     * origins that announce none (older versions) is a later batch a `straggler` summary.
     */
    closeSlackMs: zDurationMs.default(500),
    /**
     * How long a gap in an origin's batches may stay open at a scout before the scout gives up on
     * the missing batch (and on the windows it belongs to, which a scout that heard them whole
     * publishes). 3 s: gossipsub repairs a lost message through IHAVE/IWANT on its 1 s heartbeat,
     * within the 3 heartbeats its message cache gossips.
     */
    gapGraceMs: zDurationMs.default(3_000),
    /**
     * Heartbeat period of every node with `summarise: scouts`, on the telemetry topic: scouts
     * announce themselves, and every such origin its last telemetry batch. 1 s: a dead scout's
     * origins move within 3 s, for one tiny message/s per node. `origin` nodes send none.
     */
    heartbeatMs: zDurationMs.default(1_000),
    /**
     * How long a scout keeps a closed window of an origin it does not own, so that it can publish
     * it if the owner turns out to be dead. Must exceed 3 heartbeats (liveness): 8 s covers
     * 3 s of liveness plus windows flushed by the dead owner but not yet committed.
     */
    handoffHoldMs: zDurationMs.default(8_000),
    /**
     * Time a new scout listens before it may own windows (rounded up to a window boundary):
     * dialling static peers and grafting the mesh takes ~0.5 s with 5 nodes (docs/libp2p.md).
     */
    warmupMs: zDurationMs.default(2_000),
    /**
     * How this node sends the point columns of its telemetry gossip. `packed` (base64 float64s):
     * a third smaller and about 4× cheaper for scouts to decode. `arrays` (JSON numbers): what
     * versions before the packed form read (they reject packed batches, which lowers the sender's
     * gossip score); use it while upgrading such a mesh, then switch back. Every version since the
     * packed form reads both. The array form is ~1.8× larger: at most 5,000 `batchMaxPoints`.
     */
    wireColumns: z.enum(['packed', 'arrays']).default('packed'),
    /** Points per telemetry gossip message; 4,096 (~150 KiB) stays under the 256 KiB envelope cap. */
    batchMaxPoints: z.number().int().positive().max(8_192).default(4_096),
    /** Points queued at the origin before the API refuses more: gossip has no backpressure. */
    maxQueuedPoints: z.number().int().positive().default(200_000),
    /**
     * Metric → subject suffix after `<prefix>.telemetry.` (1-3 tokens). Keys are metric names, or
     * `area.*` for a whole area. Empty: the metric name itself (`sentiment.delta` →
     * `root.solar.telemetry.sentiment.delta`), see `telemetrySubject`.
     */
    subjectMap: z
      .record(
        z.string(),
        z
          .string()
          .max(128, 'at most 128 characters: subjects stay far below the server control line')
          .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,2}$/, 'must be 1-3 tokens after "telemetry."'),
      )
      .default({}),
    /** Scouts the deployment expects; fewer live ones are reported in peer health and logged. 0: no check. */
    expectedScouts: z.number().int().nonnegative().default(0),
  })
  .strict()
  .refine((t) => t.handoffHoldMs > 3 * t.heartbeatMs, {
    message: 'must exceed 3 × telemetry.heartbeatMs',
    path: ['handoffHoldMs'],
  })
  .refine((t) => t.wireColumns !== 'arrays' || t.batchMaxPoints <= 5_000, {
    message:
      'must be at most 5000 with telemetry.wireColumns: arrays (that form must stay under the 256 KiB envelope cap)',
    path: ['batchMaxPoints'],
  })
  .refine((t) => !(t.scout && t.summarise === 'origin'), {
    message:
      'a scout summarises telemetry gossip, so it needs telemetry.summarise: scouts (or unset); ' +
      'set telemetry.scout: false to summarise only this node at the origin',
    path: ['summarise'],
  })
  .transform((t) => ({ ...t, summarise: summariseMode(t) }));

/** Telemetry summarised at the origin (`origin`) or by scouts over the mesh (`scouts`). */
export type SummariseMode = 'origin' | 'scouts';

/**
 * Who summarises this node's points: `telemetry.summarise` when set, else `scouts` for a scout
 * (`telemetry.scout: true`: configs written before the key keep their scouts), else `origin`. A
 * scout always runs the scout protocol, whatever a hand-built config says.
 */
export function summariseMode(t: { scout: boolean; summarise?: SummariseMode | undefined }): SummariseMode {
  return t.scout || t.summarise === 'scouts' ? 'scouts' : 'origin';
}

export const SubjectsSchema = z
  .object({
    /** Root of the taxonomy (seed 000, docs/seeds.md). */
    prefix: z
      .string()
      .max(64, 'at most 64 characters: subjects stay far below the server control line')
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens')
      .default('root.solar'),
  })
  .strict();

const natsSubject = z
  .string()
  .max(256, 'at most 256 characters')
  .regex(
    /^([A-Za-z0-9_-]+|\*)(\.([A-Za-z0-9_-]+|\*))*(\.>)?$|^>$/,
    'must be a NATS subject (wildcards * and > allowed)',
  );

export const InboxSchema = z
  .object({
    /**
     * Subjects (wildcards allowed) whose committed commands are delivered to the agent; one
     * durable consumer per entry, since nats-server 2.9 takes one filter per consumer. Empty: no inbox.
     */
    subjects: z.array(natsSubject).default([]),
    /**
     * Durable consumer name. Default: derived from this node's peer ID, so each sidecar has its
     * own; sidecars given the same name share the work.
     */
    durable: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_-]')
      .optional(),
    /** The agent's endpoint (push). Without it the agent pulls with `GET /v1/inbox`. */
    pushUrl: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL')
      .optional(),
    /** Time the agent has to answer before JetStream redelivers (seed 000, docs/seeds.md: ack within 5 s). */
    ackWaitMs: zDurationMs.default(5_000),
    /** Deliveries before a command is dead-lettered (seed 004's MaxDeliver 5, docs/seeds.md). */
    maxDeliver: z.number().int().min(1).default(5),
    /** Deliveries awaiting the agent's answer at once; 1 keeps stream order per consumer. */
    maxAckPending: z.number().int().min(1).default(1),
    /** Where a new durable starts: every stored command (`all`), or only those stored from now (`new`). */
    deliverPolicy: z.enum(['all', 'new', 'last']).default('all'),
    /** Wait before the n-th retry of a command (the last entry repeats), as JetStream's `backoff` reads. */
    backoffMs: z.array(zDurationMs).min(1).default([1_000, 5_000, 15_000, 30_000]),
    /**
     * Longest a push may stay open; meanwhile the delivery is kept in progress (JetStream
     * `working`) so a slow agent never gets a second copy. Past it the push counts as a retry.
     */
    processingTimeoutMs: zDurationMs.default(60_000),
    /** Deliver only commands whose endorsements verify against this node's cohort and quorum (consensus on). */
    verify: z.boolean().default(true),
    /**
     * Deliver a command whose payload is stored by reference (docs/payloads.md) with the payload
     * fetched from the bucket and checked against its digest; false: with the `payloadRef` as is.
     */
    resolvePayloads: z.boolean().default(true),
  })
  .strict()
  .refine((i) => i.processingTimeoutMs >= i.ackWaitMs, {
    message: 'must be at least inbox.ackWaitMs',
    path: ['processingTimeoutMs'],
  });

export const LogSchema = z
  .object({
    /** info: lifecycle events only; debug is per message. */
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

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
      'set consensus.members (or consensus.membersFile) or consensus.cohort, not both: a cohort is one shard of a fleet',
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

/** True when `consensus` configures a fleet of home shards (`members` or `membersFile`) rather than a cohort. */
export function fleetConfigured(consensus: { members: readonly string[]; membersFile?: string | undefined }): boolean {
  return consensus.members.length > 0 || consensus.membersFile !== undefined;
}

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
export type { FederationConfig } from './federation-schema.js';
export type { PayloadsConfig } from './payloads-schema.js';

/** Config keys whose values are secrets, masked by `config print`. */
export const SECRET_KEYS: ReadonlyArray<string> = ['nats.pass', 'nats.token', 'api.token'];
