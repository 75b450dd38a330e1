/**
 * Which streams break exactly-once: net-sync proves a row's fate by reading the stream back
 * (look before resend), which only works on a stream that keeps what it stored. A WorkQueue or
 * Interest stream deletes a message once it is consumed, so after a lost PubAck the lookup
 * either is refused by the server or finds nothing and republishes. See docs/exactly-once.md.
 */

/** Retention policies as `streams:` spells them. */
export type Retention = 'limits' | 'workqueue' | 'interest';

/** What the guard needs to know of one stream, live or declared. */
export interface StreamRetentionView {
  name: string;
  retention: Retention;
  subjects: readonly string[];
  /** The stream's duplicate window in ms. */
  duplicateWindowMs: number;
}

/** The config key that accepts such streams, named for what it gives up. */
export const UNSAFE_RETENTION_OPT_IN = 'commit.dedupeOnlyWithinDuplicateWindow';

/**
 * Shortest duplicate window accepted for such a stream under the opt-in: the window is then the
 * only defence against a republish, and a sidecar cut off for longer than it duplicates.
 */
export const MIN_UNSAFE_DUPLICATE_WINDOW_MS = 10 * 60_000;

/** True when some concrete subject matches both patterns (`*` one token, `>` the rest). */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    const s = x[i];
    const t = y[i];
    if (s === undefined || t === undefined) return s === t;
    if (s === '>' || t === '>') return true;
    if (s !== '*' && t !== '*' && s !== t) return false;
  }
}

/** Streams that capture some subject under `<prefix>.` and do not keep what they store. */
export function unsafeRetentionStreams(streams: readonly StreamRetentionView[], prefix: string): StreamRetentionView[] {
  const ours = `${prefix}.>`;
  return streams.filter(
    (s) => s.retention !== 'limits' && s.subjects.some((subject) => subjectsOverlap(subject, ours)),
  );
}

/**
 * The refusal to report, or null when every stream is safe or the operator opted in with windows
 * long enough. The message names the streams and the way out.
 */
export function retentionRefusal(
  streams: readonly StreamRetentionView[],
  prefix: string,
  optedIn: boolean,
): string | null {
  const unsafe = unsafeRetentionStreams(streams, prefix);
  if (unsafe.length === 0) return null;
  const names = unsafe.map((s) => `${s.name} (${s.retention})`).join(', ');
  if (!optedIn) {
    return (
      `stream ${names} deletes messages once consumed, so net-sync cannot look a message up before ` +
      `resending it and exactly-once would not hold; use Limits retention with a consumer, or set ` +
      `${UNSAFE_RETENTION_OPT_IN}: true to accept duplicates after the duplicate window`
    );
  }
  const short = unsafe.filter((s) => s.duplicateWindowMs < MIN_UNSAFE_DUPLICATE_WINDOW_MS);
  if (short.length === 0) return null;
  return (
    `stream ${short.map((s) => s.name).join(', ')}: with ${UNSAFE_RETENTION_OPT_IN} the duplicate window is the ` +
    `only dedupe, and it must be at least ${MIN_UNSAFE_DUPLICATE_WINDOW_MS / 60_000} min ` +
    `(got ${short.map((s) => `${s.duplicateWindowMs} ms`).join(', ')})`
  );
}

/**
 * Streams under `<prefix>.` whose duplicate window does not outlast the publish timeout. A
 * publish given up on is fenced when its timeout expires (nothing sent on that connection can
 * land later), so a late first copy and a takeover's copy are at most the timeout apart: the
 * window must be longer for the server to drop the second. See docs/exactly-once.md.
 */
export function windowsWithinFence(
  streams: readonly StreamRetentionView[],
  prefix: string,
  publishTimeoutMs: number,
): StreamRetentionView[] {
  const ours = `${prefix}.>`;
  return streams.filter(
    (s) => s.duplicateWindowMs <= publishTimeoutMs && s.subjects.some((subject) => subjectsOverlap(subject, ours)),
  );
}

/** The shortest duplicate window among `streams`, ms (0 = the server's 2 min). */
export function shortestDuplicateWindowMs(streams: ReadonlyArray<{ duplicateWindow: number }>): number {
  return Math.min(120_000, ...streams.map((s) => (s.duplicateWindow > 0 ? s.duplicateWindow : 120_000)));
}

/**
 * With consensus on, how long a command row may wait before it is looked up in the stream
 * rather than sent: from its creation when it is promoted, from its last update when the
 * committer claims it. Another committer may have taken it over by then, and a copy sent more
 * than a window after theirs would be stored twice; within half the shortest window, the
 * stream drops it. At most 30 s: a lookup costs a scan, and an older row is rare.
 */
export function takeoverLookupAfterMs(streams: ReadonlyArray<{ duplicateWindow: number }>): number {
  return Math.min(30_000, shortestDuplicateWindowMs(streams) / 2);
}

/**
 * How long a telemetry summary may wait before it is looked up rather than sent: half the
 * shortest duplicate window among the streams, between 10 s (so that a lookup, which moves the
 * row back, is never outrun by the next) and 60 s. Other scouts may hold the same ID.
 */
export function sharedIdLookupAfterMs(streams: ReadonlyArray<{ duplicateWindow: number }>): number {
  return Math.max(10_000, Math.min(60_000, shortestDuplicateWindowMs(streams) / 2));
}

/** The guard's view of declared streams (`streams:`). */
export function specRetentionViews(
  specs: ReadonlyArray<{ name: string; retention: Retention; subjects: readonly string[]; duplicateWindow: number }>,
): StreamRetentionView[] {
  return specs.map((s) => ({
    name: s.name,
    retention: s.retention,
    subjects: s.subjects,
    duplicateWindowMs: s.duplicateWindow,
  }));
}
