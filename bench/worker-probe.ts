/**
 * (w) A probe, not a net-sync path: the ceiling of the next structural step, a commit path on
 * two threads. net-sync's SqliteOutbox runs on a worker thread (durable appends that claim their
 * rows and non-durable commit marks, as in (b″)); the main thread builds each command row as the
 * intake does, hands rows over in batches of at most 256 (so the threads overlap), and publishes
 * each row once its append is durable through net-sync's own `JetStreamPublisher.send` (core
 * publish, PubAcks on one inbox, as (a′)). Nothing else of net-sync runs (no lease bookkeeping,
 * lookups, metrics or API), so the rate bounds from above what moving SQLite off the event loop
 * could give (c). Each thread's event-loop utilisation shows which one limits, and
 * nats-server's CPU (cores busy) what is left of the machine.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { ConfigSchema } from '../src/config/schema.js';
import type { NewOutboxRow, StreamLocation } from '../src/core/intent.js';
import type { PublishResult } from '../src/core/ports.js';
import { JetStreamPublisher } from '../src/nats/jetstream-publisher.js';
import { NatsConnector } from '../src/nats/nats-connector.js';
import { connectRaw } from './baselines.js';
import {
  benchCommandRow,
  budgetMs,
  closedLoop,
  sampleSince,
  WINDOW,
  withNats,
  within,
  withTempDir,
  type Sample,
  type Sizes,
} from './common.js';
import type { ProbeReply, ProbeRequest } from './worker-probe-thread.js';

/** Rows per message to the worker. */
const HANDOVER_ROWS = 256;

/** (w) `sizes.netsync` intents after a warm-up, timed until every commit mark is written. */
export function measureWorkerProbe(sizes: Sizes): Promise<Sample> {
  return withNats((server) =>
    withTempDir(async (dir) => {
      // The raw connection creates the stream; the probe publishes on a connector of its own.
      const nc = await connectRaw(server.url);
      const connector = new NatsConnector({ config: ConfigSchema.parse({ nats: { servers: [server.url] } }).nats });
      await connector.start();
      const probe = new TwoThreadPath(new JetStreamPublisher({ connector }), join(dir, 'probe.db'));
      try {
        await within('(w) warm-up', budgetMs(sizes.warmup), probe.run(sizes.warmup));
        const mainElu = performance.eventLoopUtilization();
        const workerElu = probe.worker.performance.eventLoopUtilization();
        const serverCpu = cpuMs(server.pid);
        const started = performance.now();
        await within('(w)', budgetMs(sizes.netsync), probe.run(sizes.netsync));
        const wallMs = performance.now() - started;
        const sample = sampleSince(sizes.netsync, started, {
          mainElu: performance.eventLoopUtilization(mainElu).utilization.toFixed(2),
          workerElu: probe.worker.performance.eventLoopUtilization(workerElu).utilization.toFixed(2),
          serverCores: ((cpuMs(server.pid) - serverCpu) / wallMs).toFixed(2),
        });
        const total = sizes.warmup + sizes.netsync;
        if (probe.committed !== total || probe.claimed !== total) {
          throw new Error(
            `(w): ${probe.committed} rows committed, ${probe.claimed} claimed on append, expected ${total}`,
          );
        }
        return sample;
      } finally {
        await probe.close();
        await connector.stop();
        await nc.close();
      }
    }),
  );
}

type Mark = { correlationId: string } & StreamLocation;

/** CPU time (user + system) of process `pid` so far, ms, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/** The probe's main-thread half. One run at a time. */
class TwoThreadPath {
  readonly worker: Worker;
  committed = 0;
  claimed = 0;
  private readonly publisher: JetStreamPublisher;
  private readonly batchRows = ConfigSchema.parse({}).commit.batchRows;
  private readonly handedOver = new Map<number, { rows: NewOutboxRow[]; resolve: Array<() => void> }>();
  private rows: NewOutboxRow[] = [];
  private resolve: Array<() => void> = [];
  private handover: NodeJS.Immediate | undefined;
  private marks: Mark[] = [];
  private markFlush: NodeJS.Immediate | undefined;
  private nextId = 0;
  private nextMsg = 0;
  private acked = 0;
  private failure: Error | null = null;
  private waiter: ((r: ProbeReply) => void) | null = null;
  private exited = false;

  constructor(publisher: JetStreamPublisher, path: string) {
    this.publisher = publisher;
    this.worker = new Worker(new URL('./worker-probe-thread.js', import.meta.url), {
      workerData: { path, synchronous: ConfigSchema.parse({}).buffer.synchronous },
    });
    this.worker.on('message', (r: ProbeReply) => this.onReply(r));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`(w) worker exited (code ${code})`)));
  }

  /** Accepts `count` intents with {@link WINDOW} outstanding; resolves once all are marked committed. */
  async run(count: number): Promise<void> {
    const goal = this.acked + count;
    await closedLoop(count, WINDOW, () => this.accept());
    while (this.acked < goal && this.failure === null) await new Promise((r) => setTimeout(r, 1));
    if (this.failure !== null) throw this.failure;
    this.flushMarks();
    const synced = await this.ask({ t: 'sync' });
    if (synced.t !== 'synced')
      throw this.failure ?? new Error(`(w) worker: ${synced.t === 'failed' ? synced.error : synced.t}`);
    ({ committed: this.committed, claimed: this.claimed } = synced);
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((r) => this.worker.once('exit', r));
    this.worker.postMessage({ t: 'close' } satisfies ProbeRequest);
    await exited;
  }

  // A dead or failing worker fails the run at once instead of leaving it waiting for its budget.
  private fail(err: Error): void {
    if (err.message.startsWith('(w) worker exited')) this.exited = true;
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = null;
    w?.({ t: 'failed', error: err.message });
  }

  private accept(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const n = this.nextMsg++;
    this.rows.push(benchCommandRow('PROBE', n));
    const accepted = new Promise<void>((r) => this.resolve.push(r));
    if (this.rows.length >= HANDOVER_ROWS) this.handOver();
    else this.handover ??= setImmediate(() => this.handOver());
    return accepted;
  }

  private handOver(): void {
    if (this.handover !== undefined) clearImmediate(this.handover);
    this.handover = undefined;
    const id = this.nextId++;
    this.handedOver.set(id, { rows: this.rows, resolve: this.resolve });
    this.worker.postMessage({ t: 'append', id, rows: this.rows } satisfies ProbeRequest);
    this.rows = [];
    this.resolve = [];
  }

  private onReply(r: ProbeReply): void {
    if (r.t === 'failed') this.failure ??= new Error(`(w) worker: ${r.error}`);
    if (r.t !== 'appended') {
      const w = this.waiter;
      this.waiter = null;
      w?.(r);
      return;
    }
    const batch = this.handedOver.get(r.id);
    this.handedOver.delete(r.id);
    for (const [i, row] of (batch?.rows ?? []).entries()) {
      const msg = { subject: row.subject, body: row.body, msgId: row.correlationId, headers: row.headers };
      this.publisher.send(msg, row.correlationId, this.onAck);
      batch?.resolve[i]?.();
    }
  }

  private readonly onAck = (correlationId: string, r: PublishResult): void => {
    if (r.kind !== 'acked') {
      this.failure ??= new Error(`(w) ${correlationId} not published: ${r.code} ${r.reason}`);
      return;
    }
    this.acked++;
    this.marks.push({ correlationId, stream: r.stream, seq: r.seq });
    if (this.marks.length >= this.batchRows) this.flushMarks();
    else this.markFlush ??= setImmediate(() => this.flushMarks());
  };

  private flushMarks(): void {
    if (this.markFlush !== undefined) clearImmediate(this.markFlush);
    this.markFlush = undefined;
    if (this.marks.length > 0) this.worker.postMessage({ t: 'mark', marks: this.marks } satisfies ProbeRequest);
    this.marks = [];
  }

  private ask(req: ProbeRequest): Promise<ProbeReply> {
    if (this.failure !== null) return Promise.resolve({ t: 'failed', error: this.failure.message });
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.worker.postMessage(req);
    });
  }
}
