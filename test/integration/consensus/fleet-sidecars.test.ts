// Acceptance, a fleet of home shards (docs/fleet.md): real sidecar processes on a loopback mesh and a
// real nats-server. 7 sidecars and one in-test member X; consensus.members names all 8 (3 inline, the
// rest in consensus.membersFile), shard size 3 (two shards of 4), quorum majority (3 of 4).
// Intents posted to every API commit exactly once, endorsed by the proposer's shard only; a shard
// below quorum reports not ready and its intent waits, an endorsement by X (the other shard's
// member) never counts, and the intent commits once after the heal; a SIGHUP reload re-plans.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CommandBody, HEADER } from '../../../src/core/command-message.js';
import { payloadDigest } from '../../../src/core/digest.js';
import { ENVELOPE_SCHEMA_VERSION, encodeSignature, endorsementBytes } from '../../../src/core/envelope.js';
import { planShards, type Shard, shardTopic } from '../../../src/core/shards.js';
import { verifyCommit } from '../../../src/index.js';
import { generateIdentity, identityPeerId } from '../../../src/mesh/identity.js';
import { disposeAll, startNode } from '../mesh/mesh-fixture.js';
import { meshIdentities } from '../../support/mesh-identities.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const SIDECARS = 7;
const SHARD_SIZE = 3;
const PER_SIDECAR = 6;
const SUBJECT = 'root.solar.command.sentiment.set';
const TOPIC = '/root-solar/sentiment/1.0.0';
const decoder = new TextDecoder();

const bodyOf = (data: Uint8Array): CommandBody => JSON.parse(decoder.decode(data)) as CommandBody;

describe(`a fleet of ${SIDECARS} sidecars and one more member, shards of ${SHARD_SIZE}, quorum majority`, () => {
  it('commits per home shard, exactly once; cross-shard endorsements never count; a reload re-plans', {
    timeout: 240_000,
  }, async () => {
    const t0 = Date.now();
    const phases: string[] = [];
    const phase = (name: string): void => void phases.push(`${name}=${Date.now() - t0}ms`);
    registerCleanup(disposeAll);
    const nats = await useNatsServer();
    const ids = await meshIdentities(SIDECARS, 'fleet');
    const xKey = await generateIdentity();
    const x = identityPeerId(xKey);
    const members = [...ids.peerIds, x];
    const plan = planShards(members, SHARD_SIZE);
    expect(plan.shards.map((s) => s.members.length)).toEqual([4, 4]);
    const shardA = plan.shardOf(x)!; // X's shard: 3 sidecars and X
    const shardB = plan.shards.find((s) => s !== shardA)!; // 4 sidecars
    const membersFile = join(tempDir('fleet-members'), 'members.txt');
    const inline = ids.peerIds.slice(0, 3);
    writeFileSync(membersFile, `# the fleet\n${[...ids.peerIds.slice(3), x].join('\n')}\n`);
    const sidecars = ids.dirs.map(
      (dir, i) =>
        new SidecarProcess({
          natsUrl: nats.url,
          dir,
          env: {
            NET_SYNC_LOG_LEVEL: 'warn',
            ...ids.meshEnv(i),
            NET_SYNC_CONSENSUS_QUORUM: 'majority',
            NET_SYNC_CONSENSUS_MEMBERS: inline.join(','),
            NET_SYNC_CONSENSUS_MEMBERS_FILE: membersFile,
            NET_SYNC_CONSENSUS_SHARD_SIZE: String(SHARD_SIZE),
            NET_SYNC_CONSENSUS_TAKEOVER_MS: '500',
          },
          // Seven processes load libp2p at once on two shared cores.
          readyTimeoutMs: 60_000,
        }),
    );
    for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
    const byPeer = new Map(ids.peerIds.map((p, i) => [p, sidecars[i]!]));
    const sidecarsOf = (shard: Shard) => shard.members.filter((m) => m !== x).map((m) => byPeer.get(m)!);
    await Promise.all(sidecars.map((s) => s.start()));
    const waitShards = async (expected: (peer: string) => number) => {
      for (const [peer, s] of byPeer) {
        let seen: unknown;
        await waitFor(
          async () => {
            const status = (await s.get('/v1/status')).json;
            seen = {
              shard: status.shard,
              peers: status.mesh?.peers,
              homeMeshPeers: status.mesh?.homeMeshPeers,
              homeSubscribers: status.mesh?.homeSubscribers,
            };
            return status.shard?.connectedMembers === expected(peer);
          },
          `${peer} (:${s.port}) to see ${expected(peer)} members of its shard`,
          60_000,
          100,
        ).catch((err: Error) => {
          throw new Error(`${err.message}; last status ${JSON.stringify(seen)}`);
        });
      }
    };
    await waitShards((p) => (plan.shardOf(p) === shardA ? 3 : 4));

    phase('started');
    // Every sidecar shows its shard; X's shard lacks X but still reaches its quorum of 3.
    for (const [peer, s] of byPeer) {
      const home = plan.shardOf(peer)!;
      expect((await s.get('/v1/status')).json.shard, `status of ${peer}`).toMatchObject({
        name: home.name,
        members: home.members,
        quorum: 3,
        quorumReachable: true,
      });
      // Ready once its home topic's mesh has formed too (quorum − 1 mates grafted).
      await waitFor(async () => (await s.get('/readyz')).status === 200, `readyz of ${peer}`, 15_000, 100);
    }

    phase('shardsUp');
    // Intents posted to every API commit exactly once, each endorsed by its proposer's shard.
    const posted: string[] = [];
    await Promise.all(
      sidecars.map(async (s, i) => {
        for (let k = 0; k < PER_SIDECAR; k++) {
          const r = await s.post('/v1/intents', { subject: SUBJECT, payload: { i, k } });
          expect(r.status, JSON.stringify(r.json)).toBe(202);
          posted.push(r.json.correlationId);
        }
      }),
    );
    const total = SIDECARS * PER_SIDECAR;
    await waitFor(
      async () => (await readStream(nats.url)).messages.length >= total,
      `${total} commands in the stream`,
      30_000,
      200,
    );
    const stream = await readStream(nats.url);
    expect(stream.messages.length).toBe(total);
    for (const id of posted) expect(stream.idCounts.get(id), `copies of ${id}`).toBe(1);
    for (const m of stream.messages) {
      const body = bodyOf(m.data);
      const home = plan.shardOf(body.origin)!;
      expect(body.shard, `shard of ${m.msgId}`).toBe(home.name);
      expect(m.headers[HEADER.shard], `Net-Sync-Shard of ${m.msgId}`).toBe(home.name);
      for (const e of body.endorsements) expect(home.members, `endorser of ${m.msgId}`).toContain(e.peerId);
      const v = await verifyCommit(
        { body: m.data, headers: m.headers },
        { members, shardSize: SHARD_SIZE, quorum: 'majority' },
      );
      expect(v.problems, `verification of ${m.msgId}`).toEqual([]);
    }

    phase('committed');
    // `net-sync verify` checks each command against the shard it names, from the same member list.
    const cli = await runCliProcess(['verify', '--json'], sidecars[0]!.env(), sidecars[0]!.dir);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({
      ok: true,
      messages: total,
      verified: total,
      members: 8,
      shardSize: 3,
    });

    phase('verified');
    // Shard B loses 2 of 4: not ready, naming the reason; its proposer's intent waits.
    const [proposer, mate, ...lost] = sidecarsOf(shardB) as [SidecarProcess, SidecarProcess, ...SidecarProcess[]];
    for (const s of lost) await s.kill('SIGKILL');
    await waitFor(
      async () => (await proposer.get('/readyz')).status === 503,
      `shard ${shardB.name} reported not ready`,
      15_000,
      100,
    );
    const notReady = await proposer.get('/readyz');
    expect(String(notReady.json.checks.shard)).toMatch(
      new RegExp(`${shardB.name}: 2 of 4 members connected, quorum 3`),
    );
    expect((await proposer.get('/v1/status')).json.shard).toMatchObject({
      connectedMembers: 2,
      quorumReachable: false,
    });
    expect((await sidecarsOf(shardA)[0]!.get('/readyz')).status).toBe(200);
    const payload = { waiting: true };
    const waiting = await proposer.post('/v1/intents', { subject: SUBJECT, payload });
    expect(waiting.status).toBe(202);
    const waitingId = waiting.json.correlationId as string;

    phase('notReady');
    // X, a member of shard A, endorses B's intent on B's topic with a valid signature: ignored.
    const live = [proposer, mate].map((s) => ids.addr(sidecars.indexOf(s)));
    const evil = await startNode({ key: xKey, cohort: members, peers: live });
    evil.node.setHome({ topic: shardTopic(TOPIC, shardB), members: shardB.members });
    await waitFor(() => evil.node.homeGossip.peers().length > 0, 'X hears a subscriber of B’s topic', 15_000, 100);
    const signature = encodeSignature(await xKey.sign(endorsementBytes(waitingId, payloadDigest(payload))));
    const endorse = () =>
      evil.node.homeGossip.publish({
        schemaVersion: ENVELOPE_SCHEMA_VERSION,
        kind: 'intent.endorse',
        endorser: x,
        endorsements: [{ correlationId: waitingId, payloadDigest: payloadDigest(payload), signature }],
      });
    await waitFor(
      async () => {
        await endorse().catch(() => undefined);
        const metrics = await (await fetch(`${proposer.url}/metrics`)).text();
        return /net_sync_gossip_rejected_total\{reason="not-in-shard"\} [1-9]/.test(metrics);
      },
      'B’s proposer to ignore X’s endorsement as not-in-shard',
      15_000,
      250,
    );
    const held = (await proposer.get(`/v1/intents/${waitingId}`)).json;
    expect(held.state).toBe('proposed');
    expect(held.endorsements.map((e: { peerId: string }) => e.peerId)).not.toContain(x);
    expect((await readStream(nats.url)).idCounts.has(waitingId)).toBe(false);

    phase('ignored');
    // The heal: the two come back, the waiting intent commits once, without X.
    await Promise.all(lost.map((s) => s.start()));
    await waitFor(
      async () => (await readStream(nats.url)).idCounts.get(waitingId) === 1,
      `${waitingId} committed after the heal`,
      30_000,
      200,
    );
    const healed = (await readStream(nats.url)).messages.find((m) => m.msgId === waitingId)!;
    expect(bodyOf(healed.data).endorsements.map((e) => e.peerId)).not.toContain(x);
    await waitFor(async () => (await proposer.get('/readyz')).status === 200, 'B ready again', 15_000, 100);

    phase('healed');
    // SIGHUP: X leaves the file; every sidecar re-plans (7 members: shards of 4 and 3) and commits there.
    writeFileSync(membersFile, `${ids.peerIds.slice(3).join('\n')}\n`);
    const replanned = planShards(ids.peerIds, SHARD_SIZE);
    for (const s of sidecars) s.child?.kill('SIGHUP');
    for (const [peer, s] of byPeer)
      await waitFor(
        async () => {
          const shard = (await s.get('/v1/status')).json.shard;
          return (
            shard?.name === replanned.shardOf(peer)!.name &&
            shard?.members.length === replanned.shardOf(peer)!.members.length
          );
        },
        `${peer} re-planned`,
        10_000,
        100,
      );
    await waitShards((p) => replanned.shardOf(p)!.members.length);
    const after: string[] = [];
    for (const s of sidecars)
      after.push((await s.post('/v1/intents', { subject: SUBJECT, payload: { after: s.port } })).json.correlationId);
    await waitFor(
      async () => {
        const counts = (await readStream(nats.url)).idCounts;
        return after.every((id) => counts.get(id) === 1);
      },
      'intents after the reload committed once each',
      30_000,
      200,
    );
    for (const m of (await readStream(nats.url)).messages.filter((m) => after.includes(m.msgId ?? ''))) {
      const v = await verifyCommit(
        { body: m.data, headers: m.headers },
        { members: ids.peerIds, shardSize: SHARD_SIZE, quorum: 'majority' },
      );
      expect(v.problems, `verification of ${m.msgId} after the reload`).toEqual([]);
    }
    phase('replanned');
    console.log(`[fleet] ${phases.join(' ')}`);
  });
});
