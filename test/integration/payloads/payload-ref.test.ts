// Acceptance of issue 17, part 1 (docs/payloads.md), on a real nats-server, real sidecar
// processes and real SQLite: a 20 MiB intent accepted while NATS is down is committed once with a
// reference, its object matches byte for byte; a SIGKILL between upload and publish leaves one
// command and one object; a payload over payloads.maxBytes gets 413 naming `payload`.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect, type NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { freePort, NatsServerProcess } from '../../../src/devkit/nats-server-process.js';
import { canonicalJson, PayloadRefError, resolvePayloadRef } from '../../../src/index.js';
import { registerCleanup } from '../../support/nats-fixture.js';
import { seededRandom, testSeed } from '../../support/seeded-random.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const MiB = 1_048_576;
const SUBJECT = 'root.solar.command.files.attach';
const BUCKET = 'NET_SYNC_PAYLOADS';

// A JSON payload of about `bytes`: text a compressor cannot shrink, in an object with a few fields.
function bigPayload(bytes: number, seed: string): { name: string; chunks: string[]; n: number } {
  const random = seededRandom(testSeed(seed));
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const chunks: string[] = [];
  for (let left = bytes; left > 0; left -= 65_536) {
    const n = Math.min(65_536, left);
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * 64)];
    chunks.push(s);
  }
  return { name: `${seed}.bin`, chunks, n: chunks.length };
}

async function natsConnect(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url });
  registerCleanup(() => nc.close());
  return nc;
}

async function objectFacts(nc: NatsConnection, name: string) {
  const os = await nc.jetstream().views.os(BUCKET);
  const info = await os.info(name);
  const bytes = await os.getBlob(name);
  const entries = (await os.list()).filter((o) => o.name === name).length;
  const jsm = await nc.jetstreamManager();
  const stream = await jsm.streams.info(`OBJ_${BUCKET}`);
  return { info, bytes, entries, streamMessages: stream.state.messages };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface Answer {
  correlationId?: string;
  state?: string;
  error?: { code: string; field?: string };
}

interface CommandJson {
  payload?: unknown;
  payloadRef: { bucket: string; name: string; size: number; digest: string };
  payloadDigest: string;
}

// One connection per request (no keep-alive): fetch's second multi-MiB POST on its pooled
// connection failed with EPIPE in one full-suite run (never alone); the cause is not proven.
function post(sidecar: SidecarProcess, body: string): Promise<{ status: number; json: Answer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${sidecar.url}/v1/intents`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Answer }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// A request that declares `bytes` of body and sends only its start: the server answers from the
// Content-Length alone. Sending the whole body races the server's close after its early 413
// (the client then sees EPIPE instead of the answer, as once in a full-suite run).
function postDeclaring(sidecar: SidecarProcess, bytes: number): Promise<{ status: number; json: Answer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${sidecar.url}/v1/intents`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(bytes) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Answer });
          req.destroy();
        });
      },
    );
    req.on('error', reject);
    req.write(`{"subject":"${SUBJECT}","payload":"`);
  });
}

describe('payloads by reference (real nats-server, sidecar process, SQLite)', () => {
  it('accepts 20 MiB while NATS is down, commits it once with a reference, and refuses past payloads.maxBytes', {
    timeout: 240_000,
  }, async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const sidecar = new SidecarProcess({
      natsUrl: url,
      readyTimeoutMs: 60_000,
      env: { NET_SYNC_PAYLOADS_MAX_BYTES: '24MiB' },
    });
    await sidecar.start();
    registerCleanup(() => sidecar.dispose());

    const payload = bigPayload(20 * MiB, 'payload-20mib');
    const accepted = await post(sidecar, JSON.stringify({ subject: SUBJECT, payload }));
    expect(accepted.status, JSON.stringify(accepted.json)).toBe(202);
    const id = accepted.json.correlationId as string;
    expect(accepted.json.state).toBe('pending-commit');

    // Over payloads.maxBytes: our own check (body within the route's limit) and the transport's.
    const over = await post(sidecar, JSON.stringify({ subject: SUBJECT, payload: 'y'.repeat(24 * MiB + 10) }));
    expect(over.status).toBe(413);
    expect(over.json.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'payload' });
    const farOver = await postDeclaring(sidecar, 25 * MiB);
    expect(farOver.status).toBe(413);
    expect(farOver.json.error).toMatchObject({ field: 'payload' });

    const nats = await NatsServerProcess.start({ port });
    registerCleanup(() => nats.dispose());
    await waitFor(
      // A kept-alive connection the server closed as it was reused reads ECONNRESET: ask again.
      async () => (await sidecar.get(`/v1/intents/${id}`).catch(() => null))?.json.state === 'committed',
      `intent ${id} committed after NATS came up`,
      90_000,
      100,
    );

    const stream = await readStream(url);
    expect(stream.idCounts.get(id), `copies of ${id}`).toBe(1);
    expect(stream.messages).toHaveLength(1);
    const message = stream.messages[0]!;
    const body = JSON.parse(new TextDecoder().decode(message.data)) as CommandJson;
    const canonical = new TextEncoder().encode(canonicalJson(payload));
    expect(body).not.toHaveProperty('payload');
    expect(body.payloadRef).toEqual({ bucket: BUCKET, name: id, size: canonical.length, digest: sha256(canonical) });
    expect(body.payloadDigest).toBe(sha256(canonical));
    expect(message.headers['Net-Sync-Payload-Ref']).toBe(`${BUCKET}/${id}`);

    const nc = await natsConnect(url);
    const facts = await objectFacts(nc, id);
    expect(facts.entries).toBe(1);
    expect(facts.info?.size).toBe(canonical.length);
    expect(Buffer.from(facts.bytes!).equals(Buffer.from(canonical))).toBe(true);
    expect(sha256(facts.bytes!)).toBe(body.payloadRef.digest);
    // The library helper gives the payload back, checked.
    expect(await resolvePayloadRef(nc, body)).toEqual(payload);
    await expect(resolvePayloadRef(nc, { ...body.payloadRef, digest: '0'.repeat(64) })).rejects.toMatchObject({
      problem: 'digest',
    });
    await expect(resolvePayloadRef(nc, { ...body.payloadRef, name: 'nope' })).rejects.toBeInstanceOf(PayloadRefError);
  });

  it('leaves one command and one object after a SIGKILL between upload and publish', { timeout: 180_000 }, async () => {
    const nats = await NatsServerProcess.start({ port: await freePort() });
    registerCleanup(() => nats.dispose());
    const url = nats.url;
    const first = new SidecarProcess({
      natsUrl: url,
      readyTimeoutMs: 60_000,
      env: { NETSYNC_TEST_FAULT: 'kill-after-payload-upload' },
    });
    await first.start();
    registerCleanup(() => first.dispose());

    const payload = bigPayload(3 * MiB, 'payload-kill');
    const accepted = await post(first, JSON.stringify({ subject: SUBJECT, payload }));
    expect(accepted.status).toBe(202);
    const id = accepted.json.correlationId as string;
    // The fault hook SIGKILLs the process right after the object is stored.
    await waitFor(() => !first.running, 'the sidecar killed by its fault hook', 30_000, 50);

    const nc = await natsConnect(url);
    const atKill = await objectFacts(nc, id);
    expect(atKill.entries, 'object stored before the kill').toBe(1);
    expect((await readStream(url)).idCounts.get(id), 'command not yet published').toBeUndefined();

    // The same buffer file and key, without the fault: the row is in-flight, looked up, then sent.
    const second = new SidecarProcess({ natsUrl: url, dir: first.dir, readyTimeoutMs: 60_000 });
    await second.start();
    registerCleanup(() => second.dispose());
    await waitFor(
      async () => (await second.get(`/v1/intents/${id}`)).json.state === 'committed',
      `intent ${id} committed after the restart`,
      60_000,
      100,
    );
    const stream = await readStream(url);
    expect(stream.idCounts.get(id), `copies of ${id}`).toBe(1);
    const after = await objectFacts(nc, id);
    expect(after.entries).toBe(1);
    // Not uploaded again: the bucket holds the first upload's chunks and one metadata message.
    expect(after.info?.nuid).toBe(atKill.info?.nuid);
    expect(after.streamMessages).toBe(atKill.streamMessages);
    expect(after.streamMessages).toBe((after.info?.chunks ?? 0) + 1);
    expect(sha256(after.bytes!)).toBe(sha256(new TextEncoder().encode(canonicalJson(payload))));

    await second.stop();
    const verify = await second.reconcile();
    expect(verify.code, JSON.stringify(verify.report)).toBe(0);
    expect(verify.report).toMatchObject({ payloadRefs: { checked: 1, problems: [] } });
  });
});
