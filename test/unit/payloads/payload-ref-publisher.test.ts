import { describe, expect, it } from 'vitest';
import { buildCommandRow } from '../../../src/core/command-message.js';
import {
  encodePayload,
  objectStoreDigest,
  type PayloadObjects,
  type PayloadRef,
  type PayloadStore,
  type StoredObjectInfo,
} from '../../../src/core/payload-ref.js';
import type { CommandPublisher, OutboundMessage, PublishResult } from '../../../src/core/ports.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { PayloadIntake, PayloadRefPublisher, PayloadUploader, verifyPayloadRefs } from '../../../src/payloads/index.js';
import { ManualClock } from '../../support/manual-clock.js';

class MemoryObjects implements PayloadObjects {
  readonly objects = new Map<string, { bytes: Uint8Array; info: StoredObjectInfo }>();
  puts = 0;
  failNext = false;
  async info(ref: PayloadRef) {
    return this.objects.get(ref.name)?.info ?? null;
  }
  async putIfAbsent(ref: PayloadRef, bytes: Uint8Array) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('nats down');
    }
    const had = this.objects.get(ref.name);
    if (had !== undefined) return had.info;
    this.puts++;
    const { digest } = encodePayload(JSON.parse(new TextDecoder().decode(bytes)));
    const info = { size: bytes.length, digest: objectStoreDigest(digest) };
    this.objects.set(ref.name, { bytes, info });
    return info;
  }
  async get(ref: PayloadRef) {
    return this.objects.get(ref.name)?.bytes ?? null;
  }
}

class MemoryPayloads implements PayloadStore {
  readonly rows = new Map<string, Uint8Array>();
  readonly uploaded = new Set<string>();
  notUploaded() {
    return [...this.rows]
      .filter(([id]) => !this.uploaded.has(id))
      .map(([correlationId, bytes]) => ({
        correlationId,
        size: bytes.length,
        digest: encodePayload(JSON.parse(new TextDecoder().decode(bytes))).digest,
      }));
  }
  markUploaded(id: string) {
    this.uploaded.add(id);
  }
  async put(id: string, bytes: Uint8Array) {
    if (!this.rows.has(id)) this.rows.set(id, bytes);
  }
  get(id: string) {
    return this.rows.get(id);
  }
  pruneOrphans() {
    return 0;
  }
}

class RecordingPublisher implements CommandPublisher {
  readonly sent: OutboundMessage[] = [];
  readonly state = 'connected' as const;
  onState() {
    return () => undefined;
  }
  async publish(msg: OutboundMessage): Promise<PublishResult> {
    this.sent.push(msg);
    return { kind: 'acked', stream: 'COMMANDS', seq: this.sent.length, duplicate: false };
  }
}

const big = { file: 'z'.repeat(2_000) };

async function setup(inlineMaxBytes = 1_000) {
  const store = new MemoryPayloads();
  const objects = new MemoryObjects();
  const inner = new RecordingPublisher();
  const uploaded: string[] = [];
  const publisher = new PayloadRefPublisher({
    inner,
    objects,
    store,
    logger: silentLogger(),
    afterUpload: (ref) => uploaded.push(ref.name),
  });
  const intake = new PayloadIntake({ store, clock: new ManualClock(0), inlineMaxBytes, bucket: 'NET_SYNC_PAYLOADS' });
  const message = async (id: string, payload: unknown) => {
    const bytes = JSON.stringify(payload).length;
    const payloadRef = await intake.externalise(id, payload, bytes);
    const row = buildCommandRow({
      correlationId: id,
      subject: 'root.solar.command.a.b',
      payload,
      ...(payloadRef === undefined ? {} : { payloadRef }),
      origin: 'o',
      traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01',
      createdAtMs: 0,
    });
    return { msg: { subject: row.subject, body: row.body, msgId: id, headers: row.headers }, payloadRef };
  };
  return { store, objects, inner, publisher, uploaded, message };
}

describe('PayloadRefPublisher', () => {
  it('keeps small payloads inline and publishes them untouched', async () => {
    const t = await setup();
    const { msg, payloadRef } = await t.message('A', { v: 1 });
    expect(payloadRef).toBeUndefined();
    expect((await t.publisher.publish(msg)).kind).toBe('acked');
    expect(t.objects.puts).toBe(0);
    expect(t.inner.sent).toHaveLength(1);
  });

  it('uploads the object first, then publishes; a resend uploads nothing', async () => {
    const t = await setup();
    const { msg, payloadRef } = await t.message('B', big);
    expect(payloadRef).toMatchObject({ bucket: 'NET_SYNC_PAYLOADS', name: 'B' });
    expect((await t.publisher.publish(msg)).kind).toBe('acked');
    expect(t.uploaded).toEqual(['B']);
    // The crash window's resend: the object is present with the same digest.
    expect((await t.publisher.publish(msg)).kind).toBe('acked');
    expect(t.objects.puts).toBe(1);
    expect(t.uploaded).toEqual(['B']);
    expect(t.inner.sent).toHaveLength(2);
  });

  it('never publishes a command whose object is missing', async () => {
    const t = await setup();
    const { msg } = await t.message('C', big);
    t.store.rows.delete('C'); // another node's proposal: no local copy, not uploaded yet
    const r = await t.publisher.publish(msg);
    expect(r).toMatchObject({ kind: 'failed', retryable: true, outcomeUnknown: false, code: 'PAYLOAD_MISSING' });
    expect(t.inner.sent).toHaveLength(0);
  });

  it('retries an upload NATS failed, without publishing', async () => {
    const t = await setup();
    const { msg } = await t.message('D', big);
    t.objects.failNext = true;
    expect(await t.publisher.publish(msg)).toMatchObject({ kind: 'failed', retryable: true, code: 'PAYLOAD_UPLOAD' });
    expect(t.inner.sent).toHaveLength(0);
    expect((await t.publisher.publish(msg)).kind).toBe('acked');
  });

  it('refuses for good an object stored under the name with another digest', async () => {
    const t = await setup();
    const { msg } = await t.message('E', big);
    t.objects.objects.set('E', { bytes: new Uint8Array(1), info: { size: 1, digest: 'SHA-256=xx' } });
    expect(await t.publisher.publish(msg)).toMatchObject({
      kind: 'failed',
      retryable: false,
      code: 'PAYLOAD_CONFLICT',
    });
    expect(t.inner.sent).toHaveLength(0);
  });

  it('refuses for good a local copy whose bytes do not hash to the reference (the put trusts the digest)', async () => {
    const t = await setup();
    const { msg } = await t.message('G', big);
    const copy = t.store.rows.get('G')!;
    const flipped = copy.slice();
    flipped[10] = flipped[10]! ^ 1; // same size, other bytes: a damaged file
    t.store.rows.set('G', flipped);
    expect(await t.publisher.publish(msg)).toMatchObject({ kind: 'failed', retryable: false, code: 'PAYLOAD_CORRUPT' });
    expect(t.objects.puts).toBe(0);
    expect(t.inner.sent).toHaveLength(0);
  });

  it('uploads one object when two sends of one command race', async () => {
    const t = await setup();
    const { msg } = await t.message('F', big);
    await Promise.all([t.publisher.publish(msg), t.publisher.publish(msg)]);
    expect(t.objects.puts).toBe(1);
  });

  it('the uploader uploads what the publisher has not, once', async () => {
    const t = await setup();
    await t.message('K', big);
    await t.message('L', big);
    const uploader = new PayloadUploader({
      store: t.store,
      uploads: t.publisher,
      bucket: 'NET_SYNC_PAYLOADS',
      state: () => 'connected',
      logger: silentLogger(),
    });
    await uploader.kick();
    expect([...t.objects.objects.keys()].sort()).toEqual(['K', 'L']);
    expect(t.store.notUploaded()).toEqual([]);
    await uploader.kick();
    expect(t.objects.puts).toBe(2);
    expect(t.inner.sent).toHaveLength(0);
  });

  it('verify reports missing and mismatched objects of committed references', async () => {
    const t = await setup();
    const ok = await t.message('G', big);
    await t.publisher.publish(ok.msg);
    const gone = await t.message('H', big);
    const wrong = await t.message('I', big);
    t.objects.objects.set('I', {
      bytes: new Uint8Array(1),
      info: { size: wrong.payloadRef!.size, digest: 'SHA-256=x' },
    });
    const inline = await t.message('J', { v: 1 });
    const rows = [ok, gone, wrong, inline].map((m) => ({ correlationId: m.msg.msgId, body: m.msg.body }));
    const report = await verifyPayloadRefs(rows, t.objects);
    expect(report.checked).toBe(3);
    expect(report.problems.map((p) => [p.correlationId, p.problem])).toEqual([
      ['H', 'missing'],
      ['I', 'digest'],
    ]);
  });
});
