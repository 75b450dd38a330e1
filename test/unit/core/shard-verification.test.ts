// verifyCommit against a fleet (docs/fleet.md): the command names its home shard, re-planned from the
// member list; endorsers from another shard never count.
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCommandRow, HEADER } from '../../../src/core/command-message.js';
import { verifyCommit } from '../../../src/core/commit-verification.js';
import { payloadDigest } from '../../../src/core/digest.js';
import { encodeSignature, endorsementBytes } from '../../../src/core/envelope.js';
import { planShards, type ShardPlan } from '../../../src/core/shards.js';
import { verifyPeerSignature } from '../../../src/mesh/peer-signature.js';

const ID = '01J00000000000000000000001';
const TP = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
const payload = { sentiment: 'bullish' };

describe('verifyCommit with members and shardSize', () => {
  const keys = new Map<string, PrivateKey>();
  let plan: ShardPlan;
  beforeAll(async () => {
    for (let i = 0; i < 8; i++) {
      const key = await generateKeyPair('Ed25519');
      keys.set(peerIdFromPrivateKey(key).toString(), key);
    }
    plan = planShards(keys.keys(), 4);
  });
  const members = () => [...keys.keys()];

  async function message(origin: string, endorsers: readonly string[], shard: string | null) {
    const digest = payloadDigest(payload);
    const endorsements = await Promise.all(
      endorsers.map(async (peerId) => ({
        peerId,
        signature: encodeSignature(await keys.get(peerId)!.sign(endorsementBytes(ID, digest))),
      })),
    );
    const row = buildCommandRow({
      correlationId: ID,
      subject: 'root.solar.command.sentiment.set',
      payload,
      origin,
      traceparent: TP,
      createdAtMs: 0,
      payloadDigest: digest,
      endorsements,
      shard,
    });
    const headers: Record<string, string> = { ...row.headers, [HEADER.msgId]: ID };
    return { body: row.body, headers };
  }

  it('accepts a majority of the origin’s own shard, named in body and header', async () => {
    const [a, b] = plan.shards as [(typeof plan.shards)[0], (typeof plan.shards)[0]];
    expect(a.members.length).toBe(4);
    const m = await message(a.members[0]!, a.members.slice(0, 3), a.name);
    expect(m.headers[HEADER.shard]).toBe(a.name);
    const v = await verifyCommit(m, {
      verify: verifyPeerSignature,
      members: members(),
      shardSize: 4,
      quorum: 'majority',
    });
    expect(v.problems).toEqual([]);
    expect(v.quorum).toBe(3);
    expect(b.members).not.toContain(a.members[0]);
  });

  it('an endorsement from another shard never counts', async () => {
    const [a, b] = plan.shards as [(typeof plan.shards)[0], (typeof plan.shards)[0]];
    const m = await message(a.members[0]!, [...a.members.slice(0, 2), b.members[0]!], a.name);
    const v = await verifyCommit(m, {
      verify: verifyPeerSignature,
      members: members(),
      shardSize: 4,
      quorum: 'majority',
    });
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => p.code).sort()).toEqual(['below-quorum', 'not-in-shard']);
    expect(v.validEndorsers).toHaveLength(2);
  });

  it('refuses a command naming no shard, an unknown one, or a shard its origin is not in', async () => {
    const [a, b] = plan.shards as [(typeof plan.shards)[0], (typeof plan.shards)[0]];
    const opts = { verify: verifyPeerSignature, members: members(), shardSize: 4, quorum: 'majority' as const };
    const none = await verifyCommit(await message(a.members[0]!, a.members.slice(0, 3), null), opts);
    expect(none.problems.map((p) => p.code)).toContain('unknown-shard');
    const unknown = await verifyCommit(await message(a.members[0]!, a.members.slice(0, 3), 'shard-0-of-3'), opts);
    expect(unknown.problems.map((p) => p.code)).toContain('unknown-shard');
    const foreign = await verifyCommit(await message(b.members[0]!, a.members.slice(0, 3), a.name), opts);
    expect(foreign.problems).toEqual([{ code: 'not-in-shard', detail: `origin ${b.members[0]}` }]);
  });

  it('flags a Net-Sync-Shard header that differs from the body', async () => {
    const [a, b] = plan.shards as [(typeof plan.shards)[0], (typeof plan.shards)[0]];
    const m = await message(a.members[0]!, a.members.slice(0, 3), a.name);
    const v = await verifyCommit(
      { body: m.body, headers: { ...m.headers, [HEADER.shard]: b.name } },
      { verify: verifyPeerSignature, members: members(), shardSize: 4, quorum: 'majority' },
    );
    expect(v.problems.map((p) => p.code)).toEqual(['shard-header-mismatch']);
  });
});
