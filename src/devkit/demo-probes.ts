/**
 * What the demo reads from its sidecars' APIs to tell the story: open rows, and which intents
 * sit buffered in SQLite while NATS is away (counting intents, not rows).
 */
import type { DemoSidecar } from './demo-cluster.js';

type Counts = Record<'proposed' | 'pending-commit' | 'in-flight' | 'committed', number>;

const BUFFERED_STATES = new Set(['pending-commit', 'in-flight']);

/** Rows still open (not committed, not terminal) over all sidecars, and pending-commit/in-flight alone. */
export async function openRows(sidecars: DemoSidecar[]): Promise<{ open: number; buffered: number }> {
  let open = 0;
  let buffered = 0;
  for (const s of sidecars) {
    const c = ((await (await fetch(`http://${s.api}/v1/status`)).json()) as { outbox: { command: Counts } }).outbox
      .command;
    open += c.proposed + c['pending-commit'] + c['in-flight'];
    buffered += c['pending-commit'] + c['in-flight'];
  }
  return { open, buffered };
}

/** The intents buffered while NATS is away, and the rows that hold them. */
export interface BufferedIntents {
  /** Intents of `ids` with at least one copy pending-commit or in-flight. */
  intents: number;
  /** Those copies over all sidecars: with consensus each endorser in turn takes over the commit and holds one. */
  rows: number;
}

/**
 * Asks every sidecar for every intent of `ids` (a copy is held by the proposer and by each
 * endorser), so that an intent is counted once whichever sidecars hold it, and every row
 * counted belongs to one of these intents.
 */
export async function bufferedIntents(sidecars: DemoSidecar[], ids: readonly string[]): Promise<BufferedIntents> {
  const copiesOf = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      for (const s of sidecars) {
        const res = await fetch(`http://${s.api}/v1/intents/${id}`);
        if (res.status === 404) {
          await res.body?.cancel();
          continue;
        }
        if (!res.ok) throw new Error(`demo: ${s.name} answered HTTP ${res.status} for intent ${id}`);
        const { state } = (await res.json()) as { state: string };
        if (BUFFERED_STATES.has(state)) copiesOf.set(id, (copiesOf.get(id) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  let rows = 0;
  for (const n of copiesOf.values()) rows += n;
  return { intents: copiesOf.size, rows };
}

/** The outage line: intents first, then the rows holding them and why there are more rows than intents. */
export function bufferedLine(accepted: number, sidecars: number, b: BufferedIntents): string {
  const held =
    b.intents === accepted
      ? `all buffered in SQLite`
      : `${b.intents} buffered in SQLite (the rest still short of quorum)`;
  const rows =
    b.rows === b.intents
      ? `${b.rows} rows pending-commit/in-flight`
      : `${b.rows} rows pending-commit/in-flight over the ${sidecars} sidecars, as each endorser in turn takes over ` +
        'an uncommitted intent with its own copy (one Nats-Msg-Id per intent: the stream keeps one)';
  return `         ${accepted} intents accepted during the outage, ${held}: ${rows}`;
}
