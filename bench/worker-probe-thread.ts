/**
 * The worker half of the (w) probe (see `worker-probe.ts`): net-sync's SqliteOutbox on a thread
 * of its own. Appends claim their rows, as for a committer that keeps up; commit marks are
 * written non-durably, as the publish pass writes them. Messages are handled in arrival order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteOutbox, type SynchronousLevel } from '../src/buffer/index.js';
import type { NewOutboxRow, StreamLocation } from '../src/core/intent.js';

/** What the main thread asks. */
export type ProbeRequest =
  | { t: 'append'; id: number; rows: NewOutboxRow[] }
  | { t: 'mark'; marks: Array<{ correlationId: string } & StreamLocation> }
  | { t: 'sync' }
  | { t: 'close' };

/** What the worker answers: an append is durable; every earlier message is done; closed. */
export type ProbeReply =
  | { t: 'appended'; id: number }
  | { t: 'synced'; committed: number; claimed: number }
  | { t: 'failed'; error: string };

const port = parentPort;
if (port === null) throw new Error('worker-probe-thread: run as a worker thread');
const { path, synchronous } = workerData as { path: string; synchronous: SynchronousLevel };
const outbox = SqliteOutbox.open({ path, synchronous });
let claimed = 0;
outbox.claimAppends({ owner: 'probe', ttlMs: 600_000, now: () => Date.now(), room: () => Number.MAX_SAFE_INTEGER });
// Each stored row's seq, handed back with its commit mark as the publish pass does.
const seqs = new Map<string, number>();
outbox.onAppended((rows) => {
  for (const r of rows) seqs.set(r.correlationId, r.seq);
  claimed += rows.filter((r) => r.state === 'in-flight').length;
});
const reply = (r: ProbeReply): void => port.postMessage(r);

port.on('message', (m: ProbeRequest) => {
  if (m.t === 'append') {
    outbox.append(m.rows).then(
      () => reply({ t: 'appended', id: m.id }),
      (err: unknown) => reply({ t: 'failed', error: String(err) }),
    );
  } else if (m.t === 'mark') {
    const marks = m.marks.map((k) => ({ ...k, rowSeq: seqs.get(k.correlationId) }));
    for (const k of m.marks) seqs.delete(k.correlationId);
    outbox.markCommitted(marks, Date.now(), { durable: false });
  } else if (m.t === 'sync') {
    reply({ t: 'synced', committed: outbox.counts('command').committed, claimed });
  } else {
    void outbox.close().then(() => port.close());
  }
});
