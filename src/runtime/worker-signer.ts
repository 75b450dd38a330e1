/**
 * An Ed25519 {@link DsseSigner} that signs on a worker thread, off the event loop: a signature
 * costs about what a whole command commit costs (docs/benchmarks.md, row f), so signing on the
 * main thread would halve the commit rate. Requests made in one turn of the event loop go to the
 * worker as one batch. While the worker is unavailable, it signs on the calling thread.
 */
import { createPrivateKey, type JsonWebKey, sign } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { DsseSigner } from '../core/federation-trust.js';
import { ed25519KeyOfPeerId } from '../core/peer-key.js';

// CommonJS, run with `eval`: the key arrives once in workerData, batches of messages after.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPrivateKey, sign } = require('node:crypto');
const key = createPrivateKey({ key: workerData.jwk, format: 'jwk' });
parentPort.on('message', (batch) => {
  parentPort.postMessage({ id: batch.id, sigs: batch.messages.map((m) => sign(null, m, key)) });
});
`;

interface Pending {
  message: Uint8Array;
  resolve: (sig: Uint8Array) => void;
}

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** Signs with one Ed25519 key on a worker thread; {@link WorkerEd25519Signer.close} ends it. */
export class WorkerEd25519Signer implements DsseSigner {
  private readonly jwk: JsonWebKey;
  private worker: Worker | null;
  private queued: Pending[] = [];
  private readonly inFlight = new Map<number, Pending[]>();
  private nextBatch = 0;
  private scheduled = false;
  private here: ReturnType<typeof createPrivateKey> | null = null;

  /**
   * @param keyid the key's peer ID.
   * @param raw libp2p's raw Ed25519 private key: the 32-byte seed followed by the 32-byte public key.
   */
  constructor(
    readonly keyid: string,
    raw: Uint8Array,
  ) {
    const pub = ed25519KeyOfPeerId(keyid);
    if (raw.length !== 64 || pub === null)
      throw new TypeError('WorkerEd25519Signer: needs a 64-byte raw key and its peer ID');
    this.jwk = { kty: 'OKP', crv: 'Ed25519', d: b64url(raw.subarray(0, 32)), x: b64url(pub) };
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { jwk: this.jwk } });
    this.worker.unref(); // referenced only while a batch is out
    this.worker.on('message', (m: { id: number; sigs: Uint8Array[] }) => this.settle(m.id, m.sigs));
    this.worker.on('error', () => this.fallBack());
    this.worker.on('exit', () => this.fallBack());
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve) => {
      this.queued.push({ message, resolve });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /** Ends the worker; requests still open are signed on this thread. Safe twice. */
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
      this.signHere(batch);
      return;
    }
    const id = this.nextBatch++;
    this.inFlight.set(id, batch);
    this.worker.ref();
    this.worker.postMessage({ id, messages: batch.map((p) => p.message) });
  }

  private settle(id: number, sigs: Uint8Array[]): void {
    const batch = this.inFlight.get(id);
    if (batch === undefined) return;
    this.inFlight.delete(id);
    if (this.inFlight.size === 0) this.worker?.unref();
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(sigs[i]!);
  }

  // The worker failed or was closed: what it held, and everything after, is signed here.
  private fallBack(): void {
    this.worker = null;
    const open = [...this.inFlight.values()].flat();
    this.inFlight.clear();
    this.signHere(open);
  }

  private signHere(batch: readonly Pending[]): void {
    if (batch.length === 0) return;
    this.here ??= createPrivateKey({ key: this.jwk, format: 'jwk' });
    for (const p of batch) p.resolve(sign(null, p.message, this.here));
  }
}
