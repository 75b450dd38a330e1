import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCommandRow, type CommandBody } from '../../../src/core/command-message.js';
import { verifyCommit } from '../../../src/core/commit-verification.js';
import {
  committerRank,
  consensusEnabled,
  countingEndorsers,
  hasQuorum,
  isExpired,
  rankCommitters,
  rankKey,
  resolveQuorum,
  takeoverAtMs,
  verifyEndorsement,
} from '../../../src/core/consensus.js';
import { payloadDigest } from '../../../src/core/digest.js';
import { encodeSignature, endorsementBytes } from '../../../src/core/envelope.js';
import { hasCode } from '../../../src/core/errors.js';
import { verifyPeerSignature } from '../../../src/mesh/peer-signature.js';

const ID = '01J00000000000000000000001';
const TP = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
const peers = ['12D3KooWAlpha', '12D3KooWBravo', '12D3KooWCharlie', '12D3KooWDelta', '12D3KooWEcho'];

describe('quorum rules', () => {
  it('resolves counts and majorities of the cohort', () => {
    expect(resolveQuorum(2, [])).toBe(2);
    expect(resolveQuorum(3, peers)).toBe(3);
    expect(resolveQuorum('majority', peers)).toBe(3);
    expect(resolveQuorum('majority', peers.slice(0, 4))).toBe(3);
    expect(resolveQuorum('majority', [...peers.slice(0, 2), peers[0]!])).toBe(2);
  });

  it('refuses a quorum that cannot be met, naming consensus.quorum', () => {
    for (const bad of [
      () => resolveQuorum('majority', []),
      () => resolveQuorum(6, peers),
      () => resolveQuorum(0, []),
    ]) {
      try {
        bad();
        expect.unreachable();
      } catch (err) {
        expect(hasCode(err, 'CONFIG_INVALID')).toBe(true);
        expect((err as { field?: string }).field).toBe('consensus.quorum');
      }
    }
  });

  it('counts distinct cohort members only; open mode counts everyone', () => {
    const cohort = new Set(peers.slice(0, 3));
    expect(countingEndorsers([peers[0]!, peers[0]!, peers[1]!, peers[4]!], cohort)).toBe(2);
    expect(hasQuorum([peers[0]!, peers[4]!], 2, cohort)).toBe(false);
    expect(hasQuorum([peers[0]!, peers[4]!], 2, new Set())).toBe(true);
  });

  it('turns consensus on with the mesh or a quorum above 1', () => {
    expect(consensusEnabled(1, false)).toBe(false);
    expect(consensusEnabled(1, true)).toBe(true);
    expect(consensusEnabled(2, false)).toBe(true);
    expect(consensusEnabled('majority', false)).toBe(true);
  });
});

describe('committer ranking and takeover', () => {
  it('is deterministic whatever the input order, and differs between intents', () => {
    const order = rankCommitters(ID, peers);
    expect(rankCommitters(ID, [...peers].reverse())).toEqual(order);
    expect(rankCommitters(ID, [...peers, ...peers])).toEqual(order);
    expect(new Set(order)).toEqual(new Set(peers));
    const keys = order.map((p) => rankKey(ID, p));
    expect([...keys].sort()).toEqual(keys);
    // Over 50 intents the first rank is spread over the peers, not stuck on one.
    const firsts = new Set(
      Array.from({ length: 50 }, (_, i) => rankCommitters(`01J${String(i).padStart(23, '0')}`, peers)[0]),
    );
    expect(firsts.size).toBeGreaterThan(2);
  });

  it('ranks a node among the endorsers it holds; -1 when it is not one', () => {
    const order = rankCommitters(ID, peers);
    order.forEach((p, k) => {
      expect(committerRank(ID, peers, p)).toBe(k);
    });
    expect(committerRank(ID, peers.slice(0, 2), peers[4]!)).toBe(-1);
  });

  it('schedules rank k at quorum + settle + k × takeover', () => {
    expect(takeoverAtMs(1_000, 0, 3_000)).toBe(1_000);
    expect(takeoverAtMs(1_000, 2, 3_000, 40)).toBe(7_040);
    const order = rankCommitters(ID, peers);
    const slots = order.map((_, k) => takeoverAtMs(0, k, 3_000, 40));
    expect(slots).toEqual([40, 3_040, 6_040, 9_040, 12_040]);
  });

  it('expires at createdAt + ttl, not before', () => {
    expect(isExpired(1_000, 500, 1_499)).toBe(false);
    expect(isExpired(1_000, 500, 1_500)).toBe(true);
  });
});

describe('endorsements and verifyCommit', () => {
  const keys: PrivateKey[] = [];
  const ids: string[] = [];
  const payload = { sentiment: 'bullish', score: 0.7 };
  const digest = payloadDigest(payload);
  beforeAll(async () => {
    for (let i = 0; i < 4; i++) {
      keys.push(await generateKeyPair('Ed25519'));
      ids.push(peerIdFromPrivateKey(keys[i]!).toString());
    }
  });
  const sign = async (i: number, d = digest, id = ID) => ({
    peerId: ids[i]!,
    signature: encodeSignature(await keys[i]!.sign(endorsementBytes(id, d))),
  });
  const message = async (
    endorsers: number[],
    over: { payload?: unknown; endorsements?: Array<{ peerId: string; signature: string }> } = {},
  ) => {
    const endorsements = over.endorsements ?? (await Promise.all(endorsers.map((i) => sign(i))));
    const row = buildCommandRow({
      correlationId: ID,
      subject: 'root.solar.command.sentiment.set',
      payload: over.payload ?? payload,
      origin: ids[0]!,
      traceparent: TP,
      createdAtMs: 1,
      payloadDigest: digest,
      endorsements,
    });
    return { body: row.body, headers: { ...row.headers, 'Nats-Msg-Id': ID } };
  };

  it('verifies a signature over (correlationId, digest) against the peer ID key', async () => {
    const e = await sign(0);
    expect(await verifyEndorsement(e, ID, digest, verifyPeerSignature)).toBe(true);
    expect(await verifyEndorsement(e, ID, payloadDigest({ other: 1 }), verifyPeerSignature)).toBe(false);
    expect(await verifyEndorsement({ ...e, peerId: ids[1]! }, ID, digest, verifyPeerSignature)).toBe(false);
    expect(await verifyEndorsement({ ...e, signature: '!!' }, ID, digest, verifyPeerSignature)).toBe(false);
    expect(await verifyEndorsement(e, ID, digest, () => Promise.reject(new Error('boom')))).toBe(false);
  });

  it('accepts a message whose quorum of the cohort verifies', async () => {
    const v = await verifyCommit(await message([0, 1, 2]), {
      verify: verifyPeerSignature,
      quorum: 'majority',
      cohort: ids,
    });
    expect(v).toMatchObject({ ok: true, correlationId: ID, quorum: 3, problems: [] });
    expect(v.validEndorsers.sort()).toEqual(ids.slice(0, 3).sort());
  });

  it('reports every kind of failure', async () => {
    const opts = { verify: verifyPeerSignature, quorum: 2, cohort: ids.slice(0, 3) };
    const codes = async (m: Parameters<typeof verifyCommit>[0], o = opts) =>
      (await verifyCommit(m, o)).problems.map((p) => p.code);
    expect(await codes(await message([0]))).toEqual(['below-quorum']);
    expect(await codes(await message([0, 1], { payload: { sentiment: 'bearish' } }))).toEqual([
      'digest-mismatch',
      'below-quorum',
    ]);
    const forged = { ...(await sign(1)), signature: (await sign(0)).signature };
    expect(await codes(await message([], { endorsements: [await sign(0), forged] }))).toEqual([
      'bad-signature',
      'below-quorum',
    ]);
    expect(await codes(await message([], { endorsements: [await sign(0), await sign(0), await sign(1)] }))).toEqual([
      'duplicate-endorser',
    ]);
    expect(await codes(await message([0, 3]))).toEqual(['not-in-cohort', 'below-quorum']);
    const wrongId = await message([0, 1]);
    expect(await codes({ ...wrongId, headers: { ...wrongId.headers, 'Nats-Msg-Id': 'other' } })).toEqual([
      'id-mismatch',
    ]);
    expect(await codes({ ...wrongId, headers: { ...wrongId.headers, 'Net-Sync-Endorsers': ids[0]! } })).toEqual([
      'endorsers-header-mismatch',
    ]);
    expect(await codes({ body: new TextEncoder().encode('not json') })).toEqual(['malformed-body']);
    // A payload inline beside a reference: the signed digest would cover only one of them.
    const ok = JSON.parse(new TextDecoder().decode((await message([0, 1])).body)) as CommandBody;
    const ref = { bucket: 'NET_SYNC_PAYLOADS', name: ok.correlationId, size: 2, digest: ok.payloadDigest! };
    expect(await codes({ body: { ...ok, payloadRef: ref } })).toEqual(['malformed-body']);
    const { payload: _, ...bare } = ok;
    expect(await codes({ body: bare })).toEqual(['malformed-body']);
    // Signed for another intent: the correlation ID is part of what is signed.
    const replayed = await sign(1, digest, '01J00000000000000000000002');
    expect(await codes(await message([], { endorsements: [await sign(0), replayed] }))).toEqual([
      'bad-signature',
      'below-quorum',
    ]);
  });

  it('reports a consensus-off message (origin sole endorser, unsigned) as unendorsed, headers consistent', async () => {
    const row = buildCommandRow({
      correlationId: ID,
      subject: 'root.solar.command.sentiment.set',
      payload,
      origin: ids[0]!,
      traceparent: TP,
      createdAtMs: 1,
      soleEndorser: true,
    });
    expect(row.headers['Net-Sync-Endorsers']).toBe(ids[0]);
    const v = await verifyCommit(
      { body: row.body, headers: { ...row.headers, 'Nats-Msg-Id': ID } },
      { verify: verifyPeerSignature },
    );
    expect(v.problems.map((p) => p.code)).toEqual(['digest-mismatch', 'below-quorum']);
    const other = { ...row.headers, 'Nats-Msg-Id': ID, 'Net-Sync-Endorsers': ids[1]! };
    expect(
      (await verifyCommit({ body: row.body, headers: other }, { verify: verifyPeerSignature })).problems.map(
        (p) => p.code,
      ),
    ).toContain('endorsers-header-mismatch');
  });

  it('accepts the parsed body or its text, without headers', async () => {
    const m = await message([0, 1]);
    const text = new TextDecoder().decode(m.body);
    expect((await verifyCommit({ body: text }, { verify: verifyPeerSignature, quorum: 2 })).ok).toBe(true);
    expect((await verifyCommit({ body: JSON.parse(text) }, { verify: verifyPeerSignature, quorum: 2 })).ok).toBe(true);
  });
});
