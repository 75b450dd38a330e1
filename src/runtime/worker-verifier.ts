/**
 * An Ed25519 {@link SignatureVerifier} that verifies on a worker thread, off the event loop: a
 * verification costs about three times a signature (docs/benchmarks.md, row g), and a received
 * event needs one per signer, so on the main thread it would take a large share of the receiving
 * sidecar's time. Requests made in one turn of the event loop go to the worker as one batch
 * ({@link BatchingWorker}); the worker keeps each key as a `KeyObject`. An ID that is not an
 * Ed25519 peer ID, or a signature that is not 64 bytes, is refused here without a trip. While the
 * worker is unavailable, it verifies on the calling thread.
 */
import type { SignatureVerifier } from '../core/federation-trust.js';
import { ed25519KeyOfPeerId } from '../core/peer-key.js';
import { BatchingWorker } from './batching-worker.js';
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
  const results = batch.items.map((i) => {
    const k = keyOf(i.x);
    if (k === null) return false;
    try { return verify(null, i.message, k, i.sig); } catch { return false; }
  });
  parentPort.postMessage({ id: batch.id, results });
});
`;

/** Peers whose key is kept; past this the cache starts over (a fleet and its partners are far smaller). */
const MAX_CACHED_KEYS = 10_000;

interface Request {
  peerId: string;
  x: string;
  message: Uint8Array;
  sig: Uint8Array;
}

/** Verifies Ed25519 signatures by peer ID on a worker thread; {@link WorkerEd25519Verifier.close} ends it. */
export class WorkerEd25519Verifier implements SignatureVerifier {
  private readonly worker = new BatchingWorker<Request, boolean>({
    source: WORKER_SOURCE,
    toWorker: (r) => ({ x: r.x, message: r.message, sig: r.sig }),
    here: (r) => verifyEd25519(r.peerId, r.message, r.sig),
  });
  private readonly keys = new Map<string, string | null>();

  verify(keyid: string, message: Uint8Array, signature: Uint8Array): boolean | Promise<boolean> {
    const x = this.keyOf(keyid);
    if (x === null || signature.length !== 64) return false;
    if (!this.worker.onWorker) return verifyEd25519(keyid, message, signature);
    return this.worker.run({ peerId: keyid, x, message, sig: signature });
  }

  /** Ends the worker; requests still open are verified on this thread. Safe twice. */
  close(): Promise<void> {
    return this.worker.close();
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
}
