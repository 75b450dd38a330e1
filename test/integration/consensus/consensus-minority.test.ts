// Acceptance, minority (docs/consensus.md): 5 real sidecar processes, quorum 3 of 5, and a real network
// partition. Every mesh link runs through its own TCP fault proxy (the chaos harness's): the
// lower-indexed sidecar dials the higher one through the proxy of that pair, and no sidecar
// knows another's real port. Cutting the 6 proxies between {A, B, C} and {D, E} isolates the
// minority while every process keeps running. D's intent stays `proposed` until the heal, then
// commits once; E's intent, with a short TTL, expires visibly (GET and SSE) and never commits.
import { describe, expect, it } from 'vitest';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { startProxiedMesh } from '../../support/proxied-mesh.js';
import type { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const N = 5;
const MINORITY = [3, 4]; // D, E
const SUBJECT = 'root.solar.command.sentiment.set';
const LONG_TTL_MS = 60_000; // D: outlives the partition
const SHORT_TTL_MS = 3_000; // E: expires during it
const HOLD_MS = 6_000; // partition length: past one re-proposal period (5 s)

async function peerCount(s: SidecarProcess): Promise<number> {
  return (await s.get('/v1/status')).json.mesh.peers as number;
}

/** Collects SSE events of one sidecar until the test ends. */
async function listen(s: SidecarProcess): Promise<Array<{ event: string; data: unknown }>> {
  const events: Array<{ event: string; data: unknown }> = [];
  const abort = new AbortController();
  const res = await fetch(`${s.url}/v1/events`, { signal: abort.signal });
  registerCleanup(async () => abort.abort());
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) return;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
      }
    }
  })();
  return events;
}

describe('consensus minority over 5 real sidecars (quorum 3) and a TCP partition', () => {
  it('a partitioned minority cannot commit; after the heal it commits once; a short TTL expires visibly', async () => {
    const nats = await useNatsServer();
    const { sidecars, links } = await startProxiedMesh({
      natsUrl: nats.url,
      n: N,
      label: 'minority',
      seed: 3,
      env: (i, ids) => ({
        NET_SYNC_CONSENSUS_QUORUM: '3',
        NET_SYNC_CONSENSUS_COHORT: ids.join(','),
        NET_SYNC_CONSENSUS_TTL_MS: String(i === 4 ? SHORT_TTL_MS : LONG_TTL_MS),
      }),
    });
    const [a, , , d, e] = sidecars as [SidecarProcess, SidecarProcess, SidecarProcess, SidecarProcess, SidecarProcess];

    // Partition: cut every link between the majority and the minority.
    const crossing = links.filter((l) => MINORITY.includes(l.from) !== MINORITY.includes(l.to));
    expect(crossing).toHaveLength(6);
    await Promise.all(crossing.map((l) => l.proxy.cut()));
    for (const [i, s] of sidecars.entries()) {
      const expected = MINORITY.includes(i) ? 1 : 2;
      await waitFor(
        async () => (await peerCount(s)) === expected,
        `sidecar ${i} to see only its side (${expected} peers)`,
        10_000,
        50,
      );
    }

    const eEvents = await listen(e);
    const propose = async (s: SidecarProcess, payload: unknown): Promise<string> => {
      const r = await s.post('/v1/intents', { subject: SUBJECT, payload });
      expect(r.status, JSON.stringify(r.json)).toBe(202);
      expect(r.json.state).toBe('proposed');
      return r.json.correlationId as string;
    };
    const held = await propose(d, { minority: 'held' });
    const doomed = await propose(e, { minority: 'doomed' });
    const partitionedAt = Date.now();

    // E's intent reaches its TTL without quorum: expired on both minority nodes, and told over SSE.
    for (const s of [e, d]) {
      await waitFor(
        async () => (await s.get(`/v1/intents/${doomed}`)).json.state === 'expired',
        `${doomed} expired on :${s.port}`,
        SHORT_TTL_MS + 5_000,
        50,
      );
    }
    await waitFor(
      () =>
        eEvents.some(
          (x) => x.event === 'intent:expired' && (x.data as { correlationId?: string }).correlationId === doomed,
        ),
      `SSE intent:expired for ${doomed}`,
      5_000,
      20,
    );
    expect(eEvents.find((x) => x.event === 'intent:expired')?.data).toMatchObject({
      correlationId: doomed,
      state: 'expired',
      quorum: 3,
    });
    const metrics = await (await fetch(`${e.url}/metrics`)).text();
    expect(metrics).toMatch(/^net_sync_consensus_intents_total\{outcome="expired"\} 1$/m);

    // Meanwhile D's intent holds 2 of 3 endorsements and stays `proposed`, through at least one
    // re-proposal period (5 s); the majority never hears of it.
    for (let i = 0; Date.now() - partitionedAt < HOLD_MS && i < 200; i++) {
      expect((await d.get(`/v1/intents/${held}`)).json.state, `${held} on D during the partition`).toBe('proposed');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const s of [d, e]) {
      const view = (await s.get(`/v1/intents/${held}`)).json;
      expect(view, `${held} on :${s.port}`).toMatchObject({ state: 'proposed' });
      expect(view.endorsements).toHaveLength(2);
    }
    expect((await a.get(`/v1/intents/${held}`)).status).toBe(404);
    expect((await readStream(nats.url)).messages).toHaveLength(0);
    const partitionMs = Date.now() - partitionedAt;

    // Heal: the links come back, the static-peer loops redial, D re-proposes, quorum, one commit.
    const healedAt = Date.now();
    await Promise.all(crossing.map((l) => l.proxy.heal()));
    await waitFor(
      async () => (await readStream(nats.url)).idCounts.has(held),
      `${held} in the stream after the heal`,
      40_000,
      100,
    );
    const commitAfterHealMs = Date.now() - healedAt;
    for (const s of sidecars) {
      await waitFor(
        async () => (await s.get(`/v1/intents/${held}`)).json.state === 'committed',
        `${held} committed on :${s.port}`,
        10_000,
        50,
      );
    }
    const stream = await readStream(nats.url);
    expect(stream.idCounts.get(held), `copies of ${held}`).toBe(1);
    expect(stream.messages).toHaveLength(1);
    expect((await e.get(`/v1/intents/${doomed}`)).json.state, `${doomed} stays expired after the heal`).toBe('expired');
    expect((await a.get(`/v1/intents/${doomed}`)).status, `${doomed} never reached the majority`).toBe(404);
    console.log(
      `[consensus-minority] partition held ${partitionMs}ms with ${held} proposed; committed ${commitAfterHealMs}ms after the heal; ${doomed} expired at its ${SHORT_TTL_MS}ms TTL`,
    );
  });
});
