/**
 * An Ed25519 {@link SignatureVerifier} that verifies on a worker thread, off the event loop: a
 * verification costs about three times a signature (docs/benchmarks.md, row g), and a received
 * event needs one per signer, so on the main thread it would take a large share of the receiving
 * sidecar's time. Requests made in one turn of the event loop go to the worker as one batch; the
 * worker keeps each key as a `KeyObject`. An ID that is not an Ed25519 peer ID, or a signature
 * that is not 64 bytes, is refused here without a trip. While the worker is unavailable, it
 * verifies on the calling thread.
 */
import { Worker } from 'node:worker_threads';
import type { SignatureVerifier } from '../core/federation-trust.js';
import { ed25519KeyOfPeerId } from '../core/peer-key.js';
import { verifyEd25519 } from './ed25519-keys.js';

// CommonJS, run with `eval`: batches of {x, message, sig} in, booleans out. Keys are cached by
// their base64url bytes (a fleet and its partners hold far fewer than the cap).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
function keyOf(x) {
  let k = keys.get(x);
  if (k !== undefined) return k;
  try { k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }); } catch { k = null; }
  if (keys.size >= 10000) keys.clear();
  keys.set(x, k);
  return k;
}
parentPort.on('message', (batch) => {
  const ok = batch.items.map((i) => {
    const k = keyOf(i.x);
    if (k === null) return false;
    try { return verify(null, i.message, k, i.sig); } catch { return false; }
  });
  parentPort.postMessage({ id: batch.id, ok });
});
`;

/** Peers whose key is kept; past this the cache starts over (a fleet and its partners are far smaller). */
const MAX_CACHED_KEYS = 10_000;

interface Pending {
  peerId: string;
  x: string;
  message: Uint8Array;
  sig: Uint8Array;
  resolve: (ok: boolean) => void;
}

/** Verifies Ed25519 signatures by peer ID on a worker thread; {@link WorkerEd25519Verifier.close} ends it. */
export class WorkerEd25519Verifier implements SignatureVerifier {
  private worker: Worker | null;
  private queued: Pending[] = [];
  private readonly inFlight = new Map<number, Pending[]>();
  private nextBatch = 0;
  private scheduled = false;
  private readonly keys = new Map<string, string | null>();

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.unref(); // referenced only while a batch is out
    this.worker.on('message', (m: { id: number; ok: boolean[] }) => this.settle(m.id, m.ok));
    this.worker.on('error', () => this.fallBack());
    this.worker.on('exit', () => this.fallBack());
  }

  verify(keyid: string, message: Uint8Array, signature: Uint8Array): boolean | Promise<boolean> {
    const x = this.keyOf(keyid);
    if (x === null || signature.length !== 64) return false;
    if (this.worker === null) return verifyEd25519(keyid, message, signature);
    return new Promise((resolve) => {
      this.queued.push({ peerId: keyid, x, message, sig: signature, resolve });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  // The key inside `peerId` as the worker takes it (base64url), or null for another kind of ID.
  private keyOf(peerId: string): string | null {
    let x = this.keys.get(peerId);
    if (x !== undefined) return x;
    const raw = ed25519KeyOfPeerId(peerId);
    x = raw === null ? null : Buffer.from(raw).toString('base64url');
    if (this.keys.size >= MAX_CACHED_KEYS) this.keys.clear();
    this.keys.set(peerId, x);
    return x;
  }

  /** Ends the worker; requests still open are verified on this thread. Safe twice. */
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
      this.verifyHere(batch);
      return;
    }
    const id = this.nextBatch++;
    this.inFlight.set(id, batch);
    this.worker.ref();
    this.worker.postMessage({ id, items: batch.map((p) => ({ x: p.x, message: p.message, sig: p.sig })) });
  }

  private settle(id: number, ok: boolean[]): void {
    const batch = this.inFlight.get(id);
    if (batch === undefined) return;
    this.inFlight.delete(id);
    if (this.inFlight.size === 0) this.worker?.unref();
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(ok[i] === true);
  }

  // The worker failed or was closed: what it held, and everything queued, is verified here.
  private fallBack(): void {
    this.worker = null;
    const open = [...this.inFlight.values()].flat();
    this.inFlight.clear();
    this.verifyHere(open);
  }

  private verifyHere(batch: readonly Pending[]): void {
    for (const p of batch) p.resolve(verifyEd25519(p.peerId, p.message, p.sig));
  }
}
