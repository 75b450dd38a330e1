/**
 * A worker thread that answers requests in batches, off the event loop: requests made in one turn
 * of the event loop go to the worker as one message, and each is answered from the worker's reply.
 * While the worker is unavailable (it failed, exited or was closed), requests are answered on the
 * calling thread, including those the worker held. The worker is referenced only while a batch is
 * out, so an idle one does not keep the process alive.
 */
import { Worker } from 'node:worker_threads';

/** What a {@link BatchingWorker} runs, and how it answers without the worker. */
export interface BatchingWorkerOptions<Req, Res> {
  /**
   * CommonJS source, run with `eval`. It receives `{ id, items }` on `parentPort` and must reply
   * `{ id, results }`, one result per item in the same order.
   */
  source: string;
  /** Passed to the worker as `workerData` (structured clone). Default: none. */
  workerData?: unknown;
  /** What is posted to the worker for one request. Default: the request itself. */
  toWorker?: (req: Req) => unknown;
  /** Answers one request on the calling thread, used while the worker is unavailable. */
  here: (req: Req) => Res;
}

interface Pending<Req, Res> {
  req: Req;
  resolve: (res: Res) => void;
}

/** Batches requests to one worker thread; {@link BatchingWorker.close} ends it. */
export class BatchingWorker<Req, Res> {
  private worker: Worker | null;
  private queued: Pending<Req, Res>[] = [];
  private readonly inFlight = new Map<number, Pending<Req, Res>[]>();
  private nextBatch = 0;
  private scheduled = false;

  constructor(private readonly opts: BatchingWorkerOptions<Req, Res>) {
    this.worker = new Worker(opts.source, { eval: true, workerData: opts.workerData });
    this.worker.unref(); // referenced only while a batch is out
    this.worker.on('message', (m: { id: number; results: Res[] }) => this.settle(m.id, m.results));
    this.worker.on('error', () => this.fallBack());
    this.worker.on('exit', () => this.fallBack());
  }

  /** True while requests go to the worker; false once it failed, exited or was closed. */
  get onWorker(): boolean {
    return this.worker !== null;
  }

  /** Answers `req`, on the worker with the other requests of this turn, or here without it. */
  run(req: Req): Promise<Res> {
    return new Promise((resolve) => {
      this.queued.push({ req, resolve });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /** Ends the worker; requests still open are answered on this thread. Safe twice. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.fallBack();
    await w?.terminate();
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 0) return;
    if (this.worker === null) {
      this.answerHere(batch);
      return;
    }
    const id = this.nextBatch++;
    this.inFlight.set(id, batch);
    this.worker.ref();
    const toWorker = this.opts.toWorker;
    this.worker.postMessage({ id, items: batch.map((p) => (toWorker === undefined ? p.req : toWorker(p.req))) });
  }

  private settle(id: number, results: Res[]): void {
    const batch = this.inFlight.get(id);
    if (batch === undefined) return;
    this.inFlight.delete(id);
    if (this.inFlight.size === 0) this.worker?.unref();
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
  }

  // The worker failed or was closed: what it held, and everything after, is answered here.
  private fallBack(): void {
    this.worker = null;
    const open = [...this.inFlight.values()].flat();
    this.inFlight.clear();
    this.answerHere(open);
  }

  private answerHere(batch: readonly Pending<Req, Res>[]): void {
    for (const p of batch) p.resolve(this.opts.here(p.req));
  }
}
