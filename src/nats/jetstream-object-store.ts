/**
 * The payload bucket over a JetStream Object Store (nats.js `js.views.os`): create-only puts,
 * infos without reading the object, and reads checked against the reference (docs/payloads.md).
 */
import {
  headers,
  JsHeaders,
  type JetStreamClient,
  nanos,
  type NatsConnection,
  nuid,
  type ObjectStore,
  type PubAck,
  StorageType,
} from 'nats';
import { NetSyncError } from '../core/errors.js';
import {
  decodePayload,
  objectStoreDigest,
  type PayloadObjects,
  PayloadRefError,
  type PayloadRef,
  type StoredObjectInfo,
} from '../core/payload-ref.js';

/** How a missing bucket is created (config `payloads.*`); without it a missing bucket is never created. */
export interface BucketSpec {
  maxAgeMs: number;
  /** -1: unlimited. */
  maxBytes: number;
  replicas: 1 | 3;
}

/** Options of {@link JetStreamObjectStore}. */
export interface JetStreamObjectStoreOptions {
  /** The live connection (or undefined while there is none); a new connection binds the bucket anew. */
  connection: () => NatsConnection | undefined;
  /** Creates a missing bucket with these limits; absent: a missing bucket reads as no object (readers). */
  create?: BucketSpec;
  /** PubAck wait for each chunk and API call. Default 30 s: a 64 MiB object is 512 chunks in flight at once. */
  timeoutMs?: number;
}

/** nats.js' default chunk size (and the raw baseline's): 128 KiB, or the server's max_payload if lower. */
const MAX_CHUNK_BYTES = 128 * 1024;

/** The subject of an object's info: nats.js' `_metaSubject` (the name in padded base64url). */
function metaSubject(bucket: string, name: string): string {
  return `$O.${bucket}.M.${btoa(name).replaceAll('+', '-').replaceAll('/', '_')}`;
}

/** Name of the stream behind an Object Store bucket. */
export function objectStoreStream(bucket: string): string {
  return `OBJ_${bucket}`;
}

/** {@link PayloadObjects} over nats.js' Object Store. */
export class JetStreamObjectStore implements PayloadObjects {
  private readonly timeoutMs: number;
  private bound: { nc: NatsConnection; stores: Map<string, Promise<ObjectStore | null>> } | undefined;
  private js: { nc: NatsConnection; js: JetStreamClient } | undefined;

  constructor(private readonly opts: JetStreamObjectStoreOptions) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async info(ref: PayloadRef): Promise<StoredObjectInfo | null> {
    const os = await this.store(ref.bucket);
    if (os === null) return null;
    const info = await os.info(ref.name);
    return info === null || info.deleted ? null : { size: info.size, digest: info.digest };
  }

  /**
   * Writes the object as nats.js' `put` does (chunks of 128 KiB on `$O.<bucket>.C.<nuid>`, all in
   * flight at once, then the info on `$O.<bucket>.M.<name>` with `Nats-Rollup: sub`), except that
   * the info's digest is the reference's: `bytes` must hash to `ref.digest` (the caller checked),
   * so the bytes are not hashed a second time by nats.js' pure-JS SHA-256 (docs/payloads.md).
   */
  async putIfAbsent(ref: PayloadRef, bytes: Uint8Array): Promise<StoredObjectInfo> {
    const os = await this.store(ref.bucket);
    if (os === null) throw new NetSyncError('NATS_NO_STREAM', `payload bucket ${ref.bucket} does not exist`);
    const { nc, js } = this.client();
    const timeout = this.timeoutMs;
    const chunkBytes = Math.min(MAX_CHUNK_BYTES, nc.info?.max_payload ?? 1024);
    const id = nuid.next();
    const chunkSubject = `$O.${ref.bucket}.C.${id}`;
    try {
      const acks: Array<Promise<PubAck>> = [];
      for (let at = 0; at < bytes.length; at += chunkBytes)
        acks.push(js.publish(chunkSubject, bytes.subarray(at, at + chunkBytes), { timeout }));
      await Promise.all(acks);
      const info = {
        bucket: ref.bucket,
        nuid: id,
        size: bytes.length,
        chunks: acks.length,
        name: ref.name,
        description: '',
        options: { max_chunk_size: chunkBytes },
        mtime: new Date().toISOString(),
        digest: objectStoreDigest(ref.digest),
        deleted: false,
      };
      // Create-only: the server refuses the info if the name already has any
      // (Nats-Expected-Last-Subject-Sequence 0), so a racing or retried upload replaces nothing.
      const h = headers();
      h.set('Nats-Expected-Last-Subject-Sequence', '0');
      h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
      await js.publish(metaSubject(ref.bucket, ref.name), new TextEncoder().encode(JSON.stringify(info)), {
        headers: h,
        timeout,
      });
      return { size: info.size, digest: info.digest };
    } catch (err) {
      // Chunks without an info are no object; remove them, as nats.js does.
      await nc
        .jetstreamManager({ checkAPI: false, timeout })
        .then((jsm) => jsm.streams.purge(objectStoreStream(ref.bucket), { filter: chunkSubject }))
        .catch(() => undefined);
      const now = await os.info(ref.name).catch(() => null);
      if (now !== null && !now.deleted) return { size: now.size, digest: now.digest };
      throw err;
    }
  }

  async get(ref: PayloadRef): Promise<Uint8Array | null> {
    const os = await this.store(ref.bucket);
    return os === null ? null : os.getBlob(ref.name);
  }

  /** The payload a reference points at, checked against its size and digest (PayloadRefError otherwise). */
  async resolve(ref: PayloadRef): Promise<unknown> {
    const bytes = await this.get(ref);
    if (bytes === null) throw new PayloadRefError('missing', `object ${ref.bucket}/${ref.name} does not exist`);
    return decodePayload(bytes, ref);
  }

  // The connection's JetStream client, made once per connection.
  private client(): { nc: NatsConnection; js: JetStreamClient } {
    const nc = this.opts.connection();
    if (nc === undefined || nc.isClosed()) throw new NetSyncError('NATS_DISCONNECTED', 'not connected to NATS');
    if (this.js?.nc !== nc) this.js = { nc, js: nc.jetstream({ timeout: this.timeoutMs }) };
    return this.js;
  }

  private store(bucket: string): Promise<ObjectStore | null> {
    const nc = this.opts.connection();
    if (nc === undefined || nc.isClosed())
      return Promise.reject(new NetSyncError('NATS_DISCONNECTED', 'not connected to NATS'));
    if (this.bound?.nc !== nc) this.bound = { nc, stores: new Map() };
    const stores = this.bound.stores;
    let os = stores.get(bucket);
    if (os === undefined) {
      os = this.bind(nc, bucket);
      // A failed bind, or a bucket not there yet, is looked up again on the next call.
      os.then(
        (found) => found === null && stores.delete(bucket),
        () => stores.delete(bucket),
      );
      stores.set(bucket, os);
    }
    return os;
  }

  private async bind(nc: NatsConnection, bucket: string): Promise<ObjectStore | null> {
    const { create } = this.opts;
    const js = nc.jetstream({ timeout: this.timeoutMs });
    if (create === undefined) {
      // `views.os` creates a missing bucket with unlimited defaults: a reader looks first.
      const jsm = await nc.jetstreamManager({ checkAPI: false, timeout: this.timeoutMs });
      const exists = await jsm.streams.info(objectStoreStream(bucket)).then(
        () => true,
        (err: Error) => {
          if (/stream not found/i.test(err.message)) return false;
          throw err;
        },
      );
      if (!exists) return null;
      return js.views.os(bucket);
    }
    return js.views.os(bucket, {
      ttl: nanos(create.maxAgeMs),
      max_bytes: create.maxBytes,
      replicas: create.replicas,
      storage: StorageType.File,
      description: 'net-sync payloads stored by reference (docs/payloads.md)',
    });
  }
}
