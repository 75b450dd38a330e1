/**
 * Whether and how this node writes dead-letter notices: only for the row kinds whose notice
 * subject (`<prefix>.deadletter.<kind>`) a configured stream captures. Without such a stream a
 * notice would only die too (no stream for its subject); dead rows are then reported locally
 * (API, metrics, `reconcile`) and nowhere else.
 */
import type { PassOptions } from '../commit/index.js';
import type { Config } from '../config/schema.js';
import { buildDeadLetterRow, deadLetterSubject } from '../core/dead-letter.js';
import type { RowKind } from '../core/intent.js';
import { subjectMatches } from '../nats/subject-filter.js';

/** The `deadLetter` hook of the publish pass for `config`, or undefined when no stream takes notices. */
export function deadLetterNotices(config: Config): PassOptions['deadLetter'] {
  const prefix = config.subjects.prefix;
  const kinds = new Set<RowKind>(
    (['command', 'telemetry'] as const).filter((kind) =>
      config.streams.some((s) =>
        s.subjects.some((pattern) => subjectMatches(deadLetterSubject(prefix, kind), pattern)),
      ),
    ),
  );
  if (kinds.size === 0) return undefined;
  return (row, reason, atMs) => (kinds.has(row.kind) ? buildDeadLetterRow(row, reason, atMs, prefix) : null);
}
