/**
 * Streams as code: the declarative JetStream stream spec, its defaults (the root.solar
 * taxonomy of seed 000, docs/seeds.md), and the pure diff between a desired spec and what a server holds.
 * A stream's `consumers` are compared apart (core/consumer-spec.ts), never by {@link diffStream}.
 */
import { z } from 'zod';
import { ConsumerSpecSchema, consumerIssues } from './consumer-spec.js';
import { zBytes, zDurationMs } from './units.js';

const streamName = z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only');
const subjectFilter = z
  .string()
  .regex(/^([A-Za-z0-9_$-]+|\*)(\.([A-Za-z0-9_$-]+|\*))*(\.>)?$|^>$/, 'must be a NATS subject (wildcards allowed)');

/**
 * A stream this one sources from (JetStream `sources[]`): another stream's messages copied in,
 * keeping their subjects. nats-server 2.9 takes one `filterSubject` per source and no subject
 * transforms (2.10 adds `subject_transforms` and several filters; docs/federation.md).
 */
export const StreamSourceSchema = z
  .object({
    /** The source stream's name (in its own account or domain). */
    name: streamName,
    /** Only messages on this subject (one filter: 2.9). Absent = all. */
    filterSubject: subjectFilter.optional(),
    /** A stream in another account: its JetStream API prefix as imported here, and the deliver prefix. */
    external: z
      .object({
        /** E.g. `$JS.acme.API`, or the prefix the account imports the partner's API under. */
        api: z.string().regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'must be a subject prefix (no wildcards)'),
        /** Prefix of the deliver subject the source's consumer pushes to. Absent = none. */
        deliver: z
          .string()
          .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'must be a subject prefix (no wildcards)')
          .optional(),
      })
      .strict()
      .optional(),
    /**
     * A stream in another JetStream domain reachable here (a leaf node): short for
     * `external.api: $JS.<domain>.API`.
     */
    domain: streamName.optional(),
  })
  .strict()
  .refine((s) => s.external === undefined || s.domain === undefined, {
    message: 'set external or domain, not both',
    path: ['domain'],
  });

/** A validated source. */
export type StreamSource = z.output<typeof StreamSourceSchema>;

/** One stream, as written in config (`streams:`). */
export const StreamSpecSchema = z
  .object({
    /** Stream name, e.g. `COMMANDS`. */
    name: streamName,
    /** Subjects the stream captures; wildcards allowed. May be empty when `sources` fill the stream. */
    subjects: z.array(z.string().min(1)).default([]),
    /** Streams copied into this one (e.g. a partner's receipts into `FEDERATION`). Absent = not managed. */
    sources: z.array(StreamSourceSchema).optional(),
    /** limits (keep by size/age, seed 000's default), workqueue, or interest. */
    retention: z.enum(['limits', 'workqueue', 'interest']).default('limits'),
    /** file (durable) or memory. */
    storage: z.enum(['file', 'memory']).default('file'),
    /** Max age of a message; explicit by policy (seed 000, docs/seeds.md). 0 = unlimited. */
    maxAge: zDurationMs,
    /** Max bytes of the stream; explicit by policy (seed 000, docs/seeds.md). -1 = unlimited. */
    maxBytes: zBytes,
    /** Max messages. -1 = unlimited (the server default). */
    maxMsgs: z.number().int().default(-1),
    /** Max messages per subject. -1 = unlimited. */
    maxMsgsPerSubject: z.number().int().default(-1),
    /** Max size of one message. -1 = the server's max_payload. */
    maxMsgSize: zBytes.default(-1),
    /** JetStream duplicate window for `Nats-Msg-Id`. 2 min is the server's default. */
    duplicateWindow: zDurationMs.default(120_000),
    /** 1, or 3 on a cluster (R3). */
    replicas: z.union([z.literal(1), z.literal(3)]).default(1),
    /** Which message goes when a limit is hit: old (keep accepting) or new (refuse). */
    discard: z.enum(['old', 'new']).default('old'),
    /** Durable consumers on this stream, created and updated with it (core/consumer-spec.ts). Absent = none managed. */
    consumers: z.array(ConsumerSpecSchema).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.subjects.length === 0 && (s.sources ?? []).length === 0)
      ctx.addIssue({
        code: 'custom',
        message: 'must list at least one subject (or declare sources)',
        path: ['subjects'],
      });
    const seen = new Set<string>();
    (s.sources ?? []).forEach((src, i) => {
      const k = sourceKey(canonicalSource(src));
      if (seen.has(k)) ctx.addIssue({ code: 'custom', message: 'is listed twice', path: ['sources', i, 'name'] });
      seen.add(k);
    });
    for (const issue of consumerIssues(s.retention, s.consumers ?? [])) ctx.addIssue({ code: 'custom', ...issue });
  });

/** A source as the server stores it: `domain` spelled as its API prefix, absent fields empty. */
export interface CanonicalSource {
  name: string;
  filterSubject: string;
  api: string;
  deliver: string;
}

/** {@link StreamSource} in the server's terms, for comparison. */
export function canonicalSource(s: StreamSource): CanonicalSource {
  return {
    name: s.name,
    filterSubject: s.filterSubject ?? '',
    api: s.domain !== undefined ? `$JS.${s.domain}.API` : (s.external?.api ?? ''),
    deliver: s.external?.deliver ?? '',
  };
}

function sourceKey(c: CanonicalSource): string {
  return `${c.name}\n${c.filterSubject}\n${c.api}\n${c.deliver}`;
}

/** A validated stream spec; durations in ms, sizes in bytes. */
export type StreamSpec = z.output<typeof StreamSpecSchema>;

/** The root.solar taxonomy (seed 000, docs/seeds.md) under `prefix`, with Limits retention and explicit limits. */
export function defaultStreams(prefix: string): StreamSpec[] {
  const day = 86_400_000;
  const base = {
    retention: 'limits',
    storage: 'file',
    maxMsgs: -1,
    maxMsgsPerSubject: -1,
    maxMsgSize: -1,
    replicas: 1,
    discard: 'old',
  } as const;
  return [
    // Commands are the audited record: a month of history, 2 min dedupe (server default).
    {
      ...base,
      name: 'COMMANDS',
      subjects: [`${prefix}.command.>`],
      maxAge: 30 * day,
      maxBytes: 1 << 30,
      duplicateWindow: 120_000,
    },
    // Telemetry summaries are high volume and re-derivable: a week, like seed 002's TELEMETRY (docs/seeds.md).
    {
      ...base,
      name: 'TELEMETRY',
      subjects: [`${prefix}.telemetry.>`],
      maxAge: 7 * day,
      maxBytes: 1 << 30,
      duplicateWindow: 120_000,
    },
    // Federation envelopes are relayed to partners and must be replayable for a month.
    {
      ...base,
      name: 'FEDERATION',
      subjects: [`${prefix}.federation.>`],
      maxAge: 30 * day,
      maxBytes: 1 << 30,
      duplicateWindow: 120_000,
    },
    // Dashboard signals only (seed 000, docs/seeds.md): a day is enough to draw recent charts.
    {
      ...base,
      name: 'OBSERVABILITY',
      subjects: [`${prefix}.observability.>`],
      maxAge: day,
      maxBytes: 256 << 20,
      duplicateWindow: 120_000,
    },
    // Dead letters wait for a human: keep them long, they are small.
    {
      ...base,
      name: 'DEADLETTER',
      subjects: [`${prefix}.deadletter.>`],
      maxAge: 90 * day,
      maxBytes: 256 << 20,
      duplicateWindow: 120_000,
    },
  ];
}

/** One field that differs between the desired spec and the server. */
export interface StreamFieldDrift {
  field: keyof StreamSpec;
  want: unknown;
  have: unknown;
}

/** The difference for one stream. */
export type StreamDiff =
  | { stream: string; action: 'create' }
  | { stream: string; action: 'update'; drift: StreamFieldDrift[] }
  | { stream: string; action: 'none' };

const COMPARED: ReadonlyArray<keyof StreamSpec> = [
  'subjects',
  'retention',
  'storage',
  'maxAge',
  'maxBytes',
  'maxMsgs',
  'maxMsgsPerSubject',
  'maxMsgSize',
  'duplicateWindow',
  'replicas',
  'discard',
  'sources',
];

/** Pure diff of a desired spec against the server's current spec (undefined = absent). */
export function diffStream(want: StreamSpec, have: StreamSpec | undefined): StreamDiff {
  if (have === undefined) return { stream: want.name, action: 'create' };
  const drift: StreamFieldDrift[] = [];
  for (const field of COMPARED) {
    if (field === 'sources') {
      // Absent in the spec: not managed. Compared as sets, in the server's terms.
      if (want.sources === undefined) continue;
      const a = want.sources.map(canonicalSource);
      const b = (have.sources ?? []).map(canonicalSource);
      if (a.map(sourceKey).sort().join('|') !== b.map(sourceKey).sort().join('|'))
        drift.push({ field, want: a, have: b });
      continue;
    }
    const a = want[field];
    const b = have[field];
    const same = Array.isArray(a) && Array.isArray(b) ? [...a].sort().join(',') === [...b].sort().join(',') : a === b;
    if (!same) drift.push({ field, want: a, have: b });
  }
  return drift.length === 0 ? { stream: want.name, action: 'none' } : { stream: want.name, action: 'update', drift };
}
