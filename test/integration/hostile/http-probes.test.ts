// Hostile input over HTTP (issue 16): a real sidecar process and a real nats-server. Every probe of
// the list answers a 4xx naming the field; idle, slow and surplus connections are cut
// within their bounds; 10,000 seeded random bodies over keep-alive connections give no 5xx and no
// crash, every 4xx names a field, and every accepted payload reaches the stream unchanged. The
// sidecar's key file is readable by others: it starts, and says so in its log.
import { chmodSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity, writeIdentity } from '../../../src/mesh/identity.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { seededRandom, testSeed } from '../../support/seeded-random.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';
import { randomBody } from './random-bodies.js';
import { type RawAnswer, sendRaw, slowClient } from './raw-http.js';

const SUBJECT = 'root.solar.command.hostile.probe';
const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 2_000;
const KEEP_ALIVE_TIMEOUT_MS = 2_000;
const MAX_CONNECTIONS = 48;
// Node looks for overdue requests every quarter of the headers timeout (at most 1 s); the rest
// is room for a loaded 2-core runner.
const SLACK_MS = HEADERS_TIMEOUT_MS / 4 + 1_000;
const BODIES = 10_000;

let sidecar: SidecarProcess;
let natsUrl: string;
const agent = new Agent({ keepAlive: true, maxSockets: 32 });
afterAll(() => agent.destroy());

beforeAll(async () => {
  natsUrl = (await useNatsServer()).url;
  sidecar = new SidecarProcess({
    natsUrl,
    env: {
      NET_SYNC_API_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      NET_SYNC_API_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      NET_SYNC_API_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
      NET_SYNC_API_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
      NET_SYNC_BUFFER_SYNCHRONOUS: 'NORMAL',
      // Small limits, so the probes past them stay small (docs/payloads.md).
      NET_SYNC_PAYLOADS_INLINE_MAX_BYTES: '65536',
      NET_SYNC_PAYLOADS_MAX_BYTES: '131072',
    },
  });
  await writeIdentity(sidecar.keyFile, await generateIdentity());
  chmodSync(sidecar.keyFile, 0o644);
  await sidecar.start();
  registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
});

/** Asserts a 4xx whose body names `field` (and whose message starts with it). */
function expectRefusal(answer: RawAnswer, status: number, field: string | RegExp, probe: string): void {
  expect(answer.status, `${probe}: ${JSON.stringify(answer.json)}`).toBe(status);
  const named = answer.json?.error?.field ?? '';
  if (typeof field === 'string') expect(named, probe).toBe(field);
  else expect(named, probe).toMatch(field);
  expect(answer.json?.error?.message?.startsWith(`${named}:`), `${probe}: ${answer.json?.error?.message}`).toBe(true);
}

const post = (body: Uint8Array | string, headers: Record<string, string> = {}): Promise<RawAnswer> =>
  sendRaw({ port: sidecar.port, agent, body, headers });

const utf8 = (...parts: Array<string | number[]>): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p)] : p)));

describe('hostile HTTP: the probes of issue 16', () => {
  it('the key file readable by others is used, with a warning in the log', () => {
    const log = readFileSync(sidecar.logPath, 'utf8');
    expect(log).toMatch(/identity file is readable or writable by group or others/);
    expect(log).toMatch(/"mode":"0644"/);
  });

  it('refuses each probe with a 4xx naming the field', async () => {
    const intent = (payloadText: string): string => `{"subject":"${SUBJECT}","payload":${payloadText}}`;
    const host = `127.0.0.1:${sidecar.port}`;
    const probes: Array<[string, () => Promise<RawAnswer>, number, string | RegExp]> = [
      [
        '5 KiB subject',
        () => post(JSON.stringify({ subject: `${SUBJECT}.${'x'.repeat(5_120)}`, payload: 1 })),
        400,
        'subject',
      ],
      ['10,000 levels of nesting', () => post(intent(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)), 400, 'payload'],
      ['__proto__ key', () => post(intent('{"__proto__":{"admin":true}}')), 400, 'payload.__proto__'],
      ['escaped __proto__ key', () => post(intent('{"a":[{"__pro\\u0074o__":1}]}')), 400, 'payload.a[0].__proto__'],
      [
        'constructor.prototype',
        () => post(intent('{"constructor":{"prototype":{}}}')),
        400,
        'payload.constructor.prototype',
      ],
      ['invalid UTF-8 in a string', () => post(utf8(intent('{"note":"ab'), [0xff, 0xfe], '"}')), 400, 'payload.note'],
      ['a UTF-16 surrogate as UTF-8', () => post(utf8(intent('"'), [0xed, 0xa0, 0x80], '"')), 400, 'payload'],
      ['1e400', () => post(intent('{"n":1e400}')), 400, 'payload.n'],
      ['-1e400 in an array', () => post(intent('[1,-1e400]')), 400, 'payload[1]'],
      ['1e-400', () => post(intent('{"n":1e-400}')), 400, 'payload.n'],
      ['2^53 + 1', () => post(intent('{"id":9007199254740993}')), 400, 'payload.id'],
      ['not JSON', () => post('{"subject":'), 400, 'body'],
      ['empty body', () => post(''), 400, 'body'],
      ['a JSON array', () => post('[]'), 400, 'body'],
      ['unknown field', () => post(`{"subject":"${SUBJECT}","payload":1,"extra":1}`), 400, 'extra'],
      ['empty-named field', () => post(`{"subject":"${SUBJECT}","payload":1,"":1}`), 400, '[""]'],
      ['no payload', () => post(`{"subject":"${SUBJECT}"}`), 400, 'payload'],
      ['payload over payloads.maxBytes', () => post(intent(JSON.stringify('x'.repeat(140_000)))), 413, 'payload'],
      ['body over the transport limit', () => post(intent(JSON.stringify('x'.repeat(400_000)))), 413, 'payload'],
      ['text/plain', () => post(intent('1'), { 'content-type': 'text/plain' }), 415, 'content-type'],
      [
        'form encoding',
        () => post('a=1', { 'content-type': 'application/x-www-form-urlencoded' }),
        415,
        'content-type',
      ],
      ['foreign Host (DNS rebinding)', () => post(intent('1'), { host: `evil.example:${sidecar.port}` }), 403, 'host'],
      ['foreign Origin', () => post(intent('1'), { host, origin: 'http://evil.example' }), 403, 'origin'],
      [
        'Idempotency-Key of 300 characters',
        () => post(intent('1'), { 'idempotency-key': 'k'.repeat(300) }),
        400,
        'idempotency-key',
      ],
      [
        'Idempotency-Key with a non-ASCII byte',
        () => post(intent('1'), { 'idempotency-key': 'k\u00e9y' }),
        400,
        'idempotency-key',
      ],
    ];
    for (const [name, send, status, field] of probes) expectRefusal(await send(), status, field, name);

    const key = `hostile-${process.pid}`;
    expect((await post(intent('{"v":1}'), { 'idempotency-key': key })).status).toBe(202);
    expectRefusal(await post(intent('{"v":2}'), { 'idempotency-key': key }), 422, 'idempotency-key', 'key reused');
    // An integer a double holds exactly is no probe: it is kept, however large.
    expect((await post(intent('{"n":100000000000000000000}'))).status).toBe(202);
  });
});

describe('hostile HTTP: slow, idle and surplus connections', () => {
  const headers = (n: number): string[] => [
    'POST /v1/intents HTTP/1.1\r\n',
    ...Array.from({ length: n }, (_, i) => `X-Slow-${i}: 1\r\n`),
  ];

  it('closes a connection that idles, or trickles headers or a body, within its bound', async () => {
    const giveUp = REQUEST_TIMEOUT_MS * 5;
    const healthz = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${sidecar.port}\r\n\r\n`;
    const [idle, slowHeaders, slowBody, keptAlive] = await Promise.all([
      slowClient(sidecar.port, [], 100, giveUp),
      slowClient(sidecar.port, headers(50), 100, giveUp),
      slowClient(
        sidecar.port,
        [
          `POST /v1/intents HTTP/1.1\r\nHost: 127.0.0.1:${sidecar.port}\r\n` +
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n',
          ...Array.from({ length: 99 }, () => ' '),
        ],
        100,
        giveUp,
      ),
      slowClient(sidecar.port, [healthz], 100, giveUp),
    ]);
    console.log(
      `hostile: idle closed after ${idle.closedAfterMs.toFixed(0)} ms, ` +
        `slow headers ${slowHeaders.closedAfterMs.toFixed(0)} ms, ` +
        `slow body ${slowBody.closedAfterMs.toFixed(0)} ms, idle keep-alive ${keptAlive.closedAfterMs.toFixed(0)} ms`,
    );
    for (const [what, o, bound] of [
      ['idle', idle, HEADERS_TIMEOUT_MS],
      ['slow headers', slowHeaders, HEADERS_TIMEOUT_MS],
      ['slow body', slowBody, REQUEST_TIMEOUT_MS],
    ] as const) {
      expect(o.closedAfterMs, what).toBeGreaterThanOrEqual(bound - 50);
      expect(o.closedAfterMs, what).toBeLessThan(bound + SLACK_MS);
      expect(o.firstLine, what).toBe('HTTP/1.1 408 Request Timeout');
    }
    // After an answer, an idle keep-alive connection lasts api.keepAliveTimeoutMs.
    expect(keptAlive.firstLine).toBe('HTTP/1.1 200 OK');
    expect(keptAlive.closedAfterMs).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS - 50);
    expect(keptAlive.closedAfterMs).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS + SLACK_MS);
  });

  it('refuses connections past api.maxConnections at once, and takes new ones when they close', async () => {
    const open: Socket[] = [];
    registerCleanup(async () => {
      for (const s of open) s.destroy();
    });
    // Sequential keep-alive requests until one is closed unanswered: only then is the count known.
    let refused: { answered: boolean; closedAfterMs: number } | undefined;
    while (refused === undefined && open.length <= MAX_CONNECTIONS) {
      const t0 = performance.now();
      const s = connect(sidecar.port, '127.0.0.1');
      const answered = await new Promise<boolean>((resolve) => {
        s.once('data', () => resolve(true));
        s.once('close', () => resolve(false));
        s.on('error', () => undefined);
        s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${sidecar.port}\r\n\r\n`);
      });
      if (answered) open.push(s);
      else refused = { answered, closedAfterMs: performance.now() - t0 };
    }
    console.log(
      `hostile: ${open.length} connections answered, the next closed after ${refused?.closedAfterMs.toFixed(0)} ms`,
    );
    expect(refused, 'a connection past the cap is closed').toBeDefined();
    expect(refused?.closedAfterMs).toBeLessThan(500);
    // Connections the runner itself left open (fetch's pool) may hold a slot or two.
    expect(open.length).toBeLessThanOrEqual(MAX_CONNECTIONS);
    expect(open.length).toBeGreaterThanOrEqual(MAX_CONNECTIONS - 2);
    for (const s of open.splice(0)) s.destroy();
    await waitFor(
      async () => (await post('{}').catch(() => ({ status: 0 }))).status === 400,
      'a new connection answered',
    );
  });
});

describe('hostile HTTP: seeded random bodies', () => {
  it(`answers ${BODIES} random bodies with no 5xx and no crash; every 4xx names a field`, async () => {
    const seed = testSeed('hostile-http');
    const rnd = seededRandom(seed);
    const bodies = Array.from({ length: BODIES }, (_, i) => randomBody(rnd, i));
    const answers: RawAnswer[] = new Array(BODIES);
    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < BODIES; i = next++) {
        const b = bodies[i]!;
        const headers: Record<string, string> =
          b.idempotencyKey === undefined ? {} : { 'idempotency-key': b.idempotencyKey };
        answers[i] = await sendRaw({ port: sidecar.port, agent, body: b.bytes, headers });
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const elapsedMs = performance.now() - t0;

    const byStatus = new Map<number, number>();
    const accepted = new Map<string, unknown>();
    for (const [i, a] of answers.entries()) {
      byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
      const what = `body ${i} (seed ${seed}): ${Buffer.from(bodies[i]!.bytes).toString('latin1').slice(0, 200)}`;
      expect([202, 207, 400, 413, 415, 422], `${what} → ${a.status} ${JSON.stringify(a.json)}`).toContain(a.status);
      if (a.status === 207) {
        // A random JSON array is a batch (docs/contracts.md#batches): each refused item names its field.
        const items = ((a.json as { items?: unknown[] } | undefined)?.items ?? []) as Array<{
          error?: { field?: string; message?: string };
        }>;
        expect(items.length, `${what} → ${JSON.stringify(a.json)}`).toBeGreaterThan(0);
        for (const item of items) {
          const field = item.error?.field ?? '';
          expect(/^\[\d+\]/.test(field) && item.error?.message?.startsWith(`${field}:`), `${what}: ${field}`).toBe(
            true,
          );
        }
      } else if (a.status === 202) {
        accepted.set(a.json?.correlationId ?? '', JSON.parse(Buffer.from(bodies[i]!.bytes).toString('utf8')).payload);
      } else {
        const field = a.json?.error?.field;
        expect(typeof field === 'string' && field.length > 0, `${what} → ${JSON.stringify(a.json)}`).toBe(true);
        expect(a.json?.error?.message?.startsWith(`${field}:`), `${what} → ${JSON.stringify(a.json)}`).toBe(true);
      }
    }
    console.log(
      `hostile: ${BODIES} bodies in ${(elapsedMs / 1000).toFixed(1)} s, ` +
        `by status ${JSON.stringify(Object.fromEntries(byStatus))}`,
    );
    expect(sidecar.running, 'the sidecar is still running').toBe(true);
    expect(accepted.size).toBeGreaterThan(BODIES * 0.25);
    expect(byStatus.get(400) ?? 0).toBeGreaterThan(BODIES * 0.25);

    // Nothing accepted was altered: the stream holds each payload exactly as it was sent.
    await waitFor(
      async () => ((await sidecar.status())?.outbox.command.committed ?? 0) >= accepted.size + 2,
      `${accepted.size} random intents committed`,
      60_000,
      200,
    );
    // A mutated byte may leave another valid subject: read every command.
    const stream = await readStream(natsUrl);
    let compared = 0;
    for (const m of stream.messages) {
      const id = m.msgId ?? '';
      if (!accepted.has(id)) continue;
      expect(JSON.parse(Buffer.from(m.data).toString('utf8')).payload, `payload of ${id}`).toEqual(accepted.get(id));
      compared++;
    }
    expect(compared).toBe(accepted.size);
  });
});
