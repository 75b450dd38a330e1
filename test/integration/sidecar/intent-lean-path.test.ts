// The lean path of POST /v1/intents (src/api/intent-route.ts) answers exactly as fastify does: a
// real sidecar process with a bearer token, a real nats-server. Every probe is sent twice, once with
// `Content-Type: application/json` (the lean path takes it) and once with
// `application/json;charset=utf-8` (the lean path leaves it to fastify's route): same status, same
// content type, same body but for the correlation IDs. A 202 from the lean path is durable: the
// sidecar is SIGKILLed right after it, and the intent is there after the restart.
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';

const SUBJECT = 'root.solar.command.lean.probe';
const TOKEN = `lean-token-${process.pid}`;
const LEAN = 'application/json';
const FASTIFY = 'application/json;charset=utf-8';

let sidecar: SidecarProcess;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });
afterAll(() => agent.destroy());

beforeAll(async () => {
  const natsUrl = (await useNatsServer()).url;
  sidecar = new SidecarProcess({
    natsUrl,
    env: {
      NET_SYNC_API_TOKEN: TOKEN,
      NET_SYNC_PAYLOADS_INLINE_MAX_BYTES: '65536',
      NET_SYNC_PAYLOADS_MAX_BYTES: '131072',
    },
  });
  await sidecar.start();
  registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
});

interface Answer {
  status: number;
  type: string | undefined;
  text: string;
}

function send(body: string, contentType: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: sidecar.port,
        path: '/v1/intents',
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': contentType, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Correlation IDs differ between two accepted intents, and the state an answer reports depends on
// how far the committer got (a keyed retry reports its intent's current state); nothing else may.
const normalised = (a: Answer): Answer => ({
  ...a,
  text: a.text
    .replace(/"correlationId":"[0-9A-Z]{26}"/g, '"correlationId":"ID"')
    .replace(/"state":"[a-z-]+"/g, '"state":"STATE"'),
});

describe('POST /v1/intents: the lean path answers as fastify does (real processes)', () => {
  it('gives the same status, content type and body for every probe', async () => {
    const intent = (payload: string, extra = ''): string => `{"subject":"${SUBJECT}","payload":${payload}${extra}}`;
    const key = `lean-${process.pid}`;
    // [name, body, extra headers for the lean send, extra headers for the fastify send]
    const probes: Array<[string, string, Record<string, string>?, Record<string, string>?]> = [
      ['one intent', intent('{"n":1}')],
      ['a batch', `[${intent('{"n":1}')},${intent('{"n":2}')},{"subject":"root.solar.elsewhere","payload":1}]`],
      ['a batch with the key header', `[${intent('1')}]`, { 'idempotency-key': 'k' }, { 'idempotency-key': 'k' }],
      ['an empty batch', '[]'],
      ['not JSON', '{"subject":'],
      ['whitespace only', '   '],
      ['a prototype key', intent('{"__proto__":{"a":1}}')],
      ['1e400', intent('{"n":1e400}')],
      ['unknown field', intent('1', ',"extra":1')],
      ['a subject outside the prefix', '{"subject":"elsewhere.x","payload":1}'],
      ['payload over payloads.maxBytes', intent(JSON.stringify('x'.repeat(140_000)))],
      [
        'a bad Idempotency-Key',
        intent('1'),
        { 'idempotency-key': 'k'.repeat(300) },
        { 'idempotency-key': 'k'.repeat(300) },
      ],
      [
        'a new Idempotency-Key',
        intent('{"v":1}'),
        { 'idempotency-key': `${key}-a` },
        { 'idempotency-key': `${key}-b` },
      ],
      ['the same key again', intent('{"v":1}'), { 'idempotency-key': `${key}-a` }, { 'idempotency-key': `${key}-b` }],
      [
        'the key for another payload',
        intent('{"v":2}'),
        { 'idempotency-key': `${key}-a` },
        { 'idempotency-key': `${key}-b` },
      ],
      ['a foreign Origin', intent('1'), { origin: 'http://evil.example' }, { origin: 'http://evil.example' }],
      ['a wrong token', intent('1'), { authorization: 'Bearer nope' }, { authorization: 'Bearer nope' }],
    ];
    const seen = new Set<number>();
    for (const [name, body, leanHeaders, fastifyHeaders] of probes) {
      const lean = normalised(await send(body, LEAN, leanHeaders));
      const viaFastify = normalised(await send(body, FASTIFY, fastifyHeaders));
      expect(lean, name).toEqual(viaFastify);
      seen.add(lean.status);
    }
    // The probes reach every answer the route gives.
    expect([...seen].sort()).toEqual([202, 207, 400, 401, 413, 422]);
  });

  it('answers 202 only once the intent is on disk', async () => {
    const answer = await send(`{"subject":"${SUBJECT}","payload":{"durable":true}}`, LEAN);
    expect(answer.status).toBe(202);
    await sidecar.kill('SIGKILL');
    await sidecar.start();
    const { correlationId } = JSON.parse(answer.text) as { correlationId: string };
    const res = await fetch(`${sidecar.url}/v1/intents/${correlationId}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { correlationId: string }).correlationId).toBe(correlationId);
  });
});
