/**
 * An Ed25519 {@link DsseSigner} that signs on a worker thread, off the event loop: a signature
 * costs about what a whole command commit costs (docs/benchmarks.md, row f), so signing on the
 * main thread would halve the commit rate. Requests made in one turn of the event loop go to the
 * worker as one batch ({@link BatchingWorker}). While the worker is unavailable, it signs on the
 * calling thread.
 */
import { createPrivateKey, type JsonWebKey, type KeyObject, sign } from 'node:crypto';
import type { DsseSigner } from '../core/federation-trust.js';
import { ed25519KeyOfPeerId } from '../core/peer-key.js';
import { BatchingWorker } from './batching-worker.js';

// CommonJS, run with `eval`: the key arrives once in workerData, batches of messages after.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPrivateKey, sign } = require('node:crypto');
const key = createPrivateKey({ key: workerData.jwk, format: 'jwk' });
parentPort.on('message', (batch) => {
  parentPort.postMessage({ id: batch.id, results: batch.items.map((m) => sign(null, m, key)) });
});
`;

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** Signs with one Ed25519 key on a worker thread; {@link WorkerEd25519Signer.close} ends it. */
export class WorkerEd25519Signer implements DsseSigner {
  private readonly jwk: JsonWebKey;
  private readonly worker: BatchingWorker<Uint8Array, Uint8Array>;
  private here: KeyObject | null = null;

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
    this.worker = new BatchingWorker({
      source: WORKER_SOURCE,
      workerData: { jwk: this.jwk },
      here: (message) => this.signHere(message),
    });
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    return this.worker.run(message);
  }

  /** Ends the worker; requests still open are signed on this thread. Safe twice. */
  close(): Promise<void> {
    return this.worker.close();
  }

  // The key is made on this thread only the first time the worker is not there to sign.
  private signHere(message: Uint8Array): Uint8Array {
    this.here ??= createPrivateKey({ key: this.jwk, format: 'jwk' });
    return sign(null, message, this.here);
  }
}
