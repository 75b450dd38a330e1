// Acceptance of issue 16 (open mode is a Sybil door, docs/operations.md): real sidecars with a
// cohort of 3 and quorum 2, and outsider libp2p nodes with fresh identities that dial the mesh
// ports, subscribe to the consensus topic and publish well-formed envelopes signed with their own
// keys (built with the project's codec and signature helpers: valid in every way but membership).
// Their endorsements never count (an honest intent whose only reachable honest endorser is its
// proposer stays proposed, however many outsiders endorse it, and a forged commit does not settle
// it), their proposals never reach the stream nor an outbox, no stored command names them as
// endorser, and every sidecar counts their envelopes as `not-in-cohort`.
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { HEADER } from '../../../src/core/command-message.js';
import { payloadDigest } from '../../../src/core/digest.js';
import { encodeSignature, endorsementBytes, type Envelope } from '../../../src/core/envelope.js';
import { meshIdentities } from '../../support/mesh-identities.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';
import { disposeAll, startNode, type TestNode } from '../mesh/mesh-fixture.js';

const SUBJECT = 'root.solar.command.sentiment.set';
const OUTSIDERS = 3; // one more than the quorum: Sybils alone could make one
const TAKEOVER_MS = 1_000;
// How long a counted endorsement or proposal would take to show in the stream (commit, takeover
// and publish take well under a second here); the test waits this long before saying "never".
const WOULD_HAVE_COMMITTED_MS = 4_000;
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** `net_sync_gossip_rejected_total{reason}` of a sidecar, from `/metrics`. */
async function refusals(s: SidecarProcess, reason: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const line = new RegExp(`^net_sync_gossip_rejected_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return line === null ? 0 : Number(line[1]);
}

/** Each outsider's endorsement of (id, digest), signed with its own key. */
async function endorse(outsiders: TestNode[], id: string, digest: string): Promise<void> {
  for (const o of outsiders) {
    const signature = encodeSignature(await o.key.sign(endorsementBytes(id, digest)));
    const envelope: Envelope = {
      schemaVersion: 1,
      kind: 'intent.endorse',
      endorser: o.node.peerId,
      endorsements: [{ correlationId: id, payloadDigest: digest, signature }],
    };
    await o.node.publish(envelope).catch(() => undefined); // best effort: the counter says what arrived
  }
}

/** A proposal of `payload` by outsider `o`, with a new correlation ID. */
function proposal(o: TestNode, payload: { outsider: number }): { id: string; digest: string; envelope: Envelope } {
  const id = ulid();
  const digest = payloadDigest(payload);
  const envelope: Envelope = {
    schemaVersion: 1,
    kind: 'intent.propose',
    origin: o.node.peerId,
    intents: [
      {
        correlationId: id,
        subject: SUBJECT,
        payload,
        payloadDigest: digest,
        createdAtMs: Date.now(),
        ttlMs: 60_000,
        traceparent: TRACEPARENT,
      },
    ],
  };
  return { id, digest, envelope };
}

/** Publishes via `send` until `s` counts at least `atLeast` not-in-cohort refusals (gossip is best effort while meshes form). */
async function untilRefused(
  s: SidecarProcess,
  atLeast: number,
  send: () => Promise<void>,
  what: string,
): Promise<void> {
  await waitFor(
    async () => {
      await send();
      return (await refusals(s, 'not-in-cohort')) >= atLeast;
    },
    `${what}: sidecar :${s.port} to count ${atLeast} not-in-cohort refusals`,
    30_000,
    500,
  );
}

describe('an outsider on the real mesh, with a cohort set', () => {
  it('never counts as endorser or proposer, and nothing it sends reaches the stream', async () => {
    registerCleanup(disposeAll);
    const nats = await useNatsServer();
    const { dirs, peerIds, meshEnv, addr } = await meshIdentities(3, 'outsider');
    const sidecars = dirs.map(
      (dir, i) =>
        new SidecarProcess({
          natsUrl: nats.url,
          dir,
          env: {
            NET_SYNC_LOG_LEVEL: 'warn',
            ...meshEnv(i),
            NET_SYNC_CONSENSUS_QUORUM: '2',
            NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
            NET_SYNC_CONSENSUS_TAKEOVER_MS: String(TAKEOVER_MS),
          },
        }),
    );
    for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
    const [a, b, c] = sidecars as [SidecarProcess, SidecarProcess, SidecarProcess];

    // Phase 1: only `a` runs, so the only honest endorsement of its intent is its own.
    await a.start();
    const outsiders: TestNode[] = [];
    for (let i = 0; i < OUTSIDERS; i++) outsiders.push(await startNode({ peers: [addr(0), addr(1), addr(2)] }));
    const outsiderIds = new Set(outsiders.map((o) => o.node.peerId));
    for (const o of outsiders)
      await waitFor(() => o.node.subscribers().includes(peerIds[0]!), `${o.node.peerId} sees a subscribe`, 30_000, 50);

    const honestPayload = { honest: 1 };
    const posted = await a.post('/v1/intents', { subject: SUBJECT, payload: honestPayload });
    expect(posted.status, JSON.stringify(posted.json)).toBe(202);
    const honest = posted.json.correlationId as string;
    const digest = payloadDigest(honestPayload);
    const forgedCommit: Envelope = {
      schemaVersion: 1,
      kind: 'intent.committed',
      committer: outsiders[0]!.node.peerId,
      commits: [{ correlationId: honest, stream: 'COMMANDS', seq: 1 }],
    };
    const before = await refusals(a, 'not-in-cohort');
    await untilRefused(
      a,
      before + OUTSIDERS + 1,
      async () => {
        await endorse(outsiders, honest, digest);
        await outsiders[0]!.node.publish(forgedCommit).catch(() => undefined);
      },
      `${OUTSIDERS} outsider endorsements of ${honest} and a forged commit`,
    );
    await new Promise((r) => setTimeout(r, WOULD_HAVE_COMMITTED_MS)); // proving an absence: give it time
    expect((await a.get(`/v1/intents/${honest}`)).json.state, `${honest} with only outsider endorsements`).toBe(
      'proposed',
    );
    expect((await readStream(nats.url)).messages, 'stream while a is alone').toEqual([]);

    // Phase 2: the cohort is complete; outsiders propose, each endorsed by every outsider.
    await Promise.all([b.start(), c.start()]);
    await waitFor(
      async () => (await readStream(nats.url)).idCounts.get(honest) === 1,
      `${honest} committed once b and c endorse`,
      30_000,
      250,
    );
    const proposals = outsiders.map((o, i) => proposal(o, { outsider: i }));
    for (const s of sidecars) {
      const seen = await refusals(s, 'not-in-cohort');
      await untilRefused(
        s,
        seen + 2 * OUTSIDERS,
        async () => {
          for (const [i, p] of proposals.entries()) {
            await outsiders[i]!.node.publish(p.envelope).catch(() => undefined);
            await endorse(outsiders, p.id, p.digest);
          }
        },
        'outsider proposals and their endorsements',
      );
    }
    const control = await b.post('/v1/intents', { subject: SUBJECT, payload: { honest: 2 } });
    expect(control.status).toBe(202);
    await new Promise((r) => setTimeout(r, WOULD_HAVE_COMMITTED_MS)); // proving an absence: give it time
    await waitFor(
      async () => (await readStream(nats.url)).idCounts.get(control.json.correlationId) === 1,
      'an honest intent committed beside the outsiders',
      30_000,
      250,
    );

    const stream = await readStream(nats.url);
    expect(stream.messages.map((m) => m.msgId).sort(), 'the stream holds the honest intents only').toEqual(
      [honest, control.json.correlationId].sort(),
    );
    for (const m of stream.messages) {
      const endorsers = (m.headers[HEADER.endorsers] ?? '').split(',').filter((x) => x !== '');
      expect(
        endorsers.filter((e) => outsiderIds.has(e)),
        `outsiders among the endorsers of ${m.msgId}`,
      ).toEqual([]);
      expect(endorsers.filter((e) => peerIds.includes(e)).length, `cohort endorsers of ${m.msgId}`).toBeGreaterThan(1);
    }
    for (const s of sidecars) {
      for (const p of proposals)
        expect((await s.get(`/v1/intents/${p.id}`)).status, `outsider intent ${p.id} on :${s.port}`).toBe(404);
      expect(await refusals(s, 'not-in-cohort'), `not-in-cohort refusals on :${s.port}`).toBeGreaterThan(0);
    }
  });
});
