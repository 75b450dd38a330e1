// Payloads by reference over the mesh (docs/payloads.md#over-the-mesh): real sidecar processes on
// a loopback libp2p mesh and a real nats-server. The proposal carries the digest and size, not the
// body; the endorsers sign the digest; whoever commits publishes only once the object is there.
import { createHash } from 'node:crypto';
import { connect } from 'nats';
import { describe, expect, it } from 'vitest';
import { canonicalJson, resolvePayloadRef, verifyCommit } from '../../../src/index.js';
import { meshIdentities } from '../../support/mesh-identities.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const SUBJECT = 'root.solar.command.files.attach';

describe('payloads by reference with consensus (3 sidecars, quorum 2)', () => {
  it('gossips the digest, commits once with a reference, and the endorsements verify', async () => {
    const nats = await useNatsServer();
    const { dirs, peerIds, meshEnv } = await meshIdentities(3, 'payload-mesh');
    const sidecars = dirs.map(
      (dir, i) =>
        new SidecarProcess({
          natsUrl: nats.url,
          dir,
          readyTimeoutMs: 60_000,
          env: {
            NET_SYNC_LOG_LEVEL: 'warn',
            ...meshEnv(i),
            NET_SYNC_CONSENSUS_QUORUM: '2',
            NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
          },
        }),
    );
    for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
    await Promise.all(sidecars.map((s) => s.start()));
    for (const s of sidecars)
      await waitFor(async () => (await s.get('/v1/status')).json.mesh.meshPeers >= 2, `mesh at :${s.port}`, 60_000, 50);

    // 600 KiB: below payloads.inlineMaxBytes, but too large for a gossip envelope (api.maxPayloadBytes).
    const payload = { file: 'q'.repeat(600 * 1_024), name: 'report.pdf' };
    const r = await sidecars[1]!.post('/v1/intents', { subject: SUBJECT, payload });
    expect(r.status, JSON.stringify(r.json)).toBe(202);
    const id = r.json.correlationId as string;
    for (const s of sidecars)
      await waitFor(
        async () => (await s.get(`/v1/intents/${id}`)).json.state === 'committed',
        `${id} committed at :${s.port}`,
        60_000,
        100,
      );
    const stream = await readStream(nats.url);
    expect(stream.idCounts.get(id)).toBe(1);
    const m = stream.messages.find((x) => x.msgId === id)!;
    const body = JSON.parse(new TextDecoder().decode(m.data)) as { payloadRef: { digest: string; size: number } };
    const canonical = new TextEncoder().encode(canonicalJson(payload));
    expect(body.payloadRef).toMatchObject({ name: id, size: canonical.length });
    expect(body.payloadRef.digest).toBe(createHash('sha256').update(canonical).digest('hex'));
    const verdict = await verifyCommit({ body: m.data, headers: m.headers }, { cohort: peerIds, quorum: 2 });
    expect(verdict.problems).toEqual([]);
    const nc = await connect({ servers: nats.url });
    registerCleanup(() => nc.close());
    expect(await resolvePayloadRef(nc, body)).toEqual(payload);
  });
});
