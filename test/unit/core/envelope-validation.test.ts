import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, test } from 'vitest';
import { payloadDigest } from '../../../src/core/digest.js';
import { encodeEnvelope } from '../../../src/core/envelope-codec.js';
import { encodeSignature, endorsementBytes, type Envelope } from '../../../src/core/envelope.js';
import { validateEnvelope, type EnvelopeValidationContext } from '../../../src/core/envelope-validation.js';

const ID = '01J9ZQ4Y6T8K3M5N7P9R1S2T3V';
const ID2 = '01J9ZQ4Y6T8K3M5N7P9R1S2T3W';
const te = new TextEncoder();

const open: EnvelopeValidationContext = { maxBytes: 4096, cohort: new Set() };

let alice: string;
let bob: string;
let endorse: (digest: string) => Promise<Envelope>;

beforeAll(async () => {
  const aliceKey = await generateKeyPair('Ed25519');
  alice = peerIdFromPrivateKey(aliceKey).toString();
  bob = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
  endorse = async (digest) => ({
    schemaVersion: 1,
    kind: 'intent.endorse',
    endorser: alice,
    endorsements: [
      {
        correlationId: ID,
        payloadDigest: digest,
        signature: encodeSignature(await aliceKey.sign(endorsementBytes(ID, digest))),
      },
    ],
  });
});

function propose(origin: string, payload: unknown, digest = payloadDigest(payload)): Envelope {
  const intent = (correlationId: string, p: unknown, d: string) => ({
    correlationId,
    subject: 'root.solar.command.x.y',
    payload: p,
    payloadDigest: d,
    createdAtMs: 1,
    ttlMs: 1000,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  });
  // A batch: a sound intent first, so a bad digest must be found beyond the first item.
  return {
    schemaVersion: 1,
    kind: 'intent.propose',
    origin,
    intents: [intent(ID2, { ok: 1 }, payloadDigest({ ok: 1 })), intent(ID, payload, digest)],
  } as Envelope;
}

describe('validateEnvelope', () => {
  test('accepts a well-formed proposal from its origin', async () => {
    const r = await validateEnvelope(encodeEnvelope(propose(alice, { a: 1 })), alice, open);
    expect(r.verdict).toBe('accept');
  });

  test('accepts endorsements signed by the endorser', async () => {
    const r = await validateEnvelope(encodeEnvelope(await endorse('c'.repeat(64))), alice, open);
    expect(r.verdict).toBe('accept');
  });

  test.each([
    ['oversized', () => new Uint8Array(5000), 'reject'],
    ['malformed', () => te.encode('nope'), 'reject'],
    ['schema', () => te.encode('{"schemaVersion":1,"kind":"heartbeat"}'), 'reject'],
    ['unknown-version', () => te.encode('{"schemaVersion":9}'), 'ignore'],
    ['unknown-kind', () => te.encode('{"schemaVersion":1,"kind":"metrics"}'), 'ignore'],
  ] as const)('%s → %s', async (reason, bytes, verdict) => {
    expect(await validateEnvelope(bytes(), alice, open)).toMatchObject({ verdict, reason });
  });

  test('author-mismatch: a proposal claiming another origin than its signer is rejected', async () => {
    const r = await validateEnvelope(encodeEnvelope(propose(bob, { a: 1 })), alice, open);
    expect(r).toMatchObject({ verdict: 'reject', reason: 'author-mismatch' });
  });

  test('digest-mismatch: a payload that does not hash to its digest is rejected', async () => {
    const r = await validateEnvelope(encodeEnvelope(propose(alice, { a: 1 }, payloadDigest({ a: 2 }))), alice, open);
    expect(r).toMatchObject({ verdict: 'reject', reason: 'digest-mismatch' });
  });

  test('bad-signature: an endorsement whose signature is not 64 base64url bytes is rejected', async () => {
    const env = (await endorse('c'.repeat(64))) as Extract<Envelope, { kind: 'intent.endorse' }>;
    for (const signature of [env.endorsements[0]!.signature.slice(0, 40), `${env.endorsements[0]!.signature}AAAA`]) {
      const bad = { ...env, endorsements: [{ ...env.endorsements[0]!, signature }] };
      expect(await validateEnvelope(encodeEnvelope(bad), alice, open)).toMatchObject({
        verdict: 'reject',
        reason: 'bad-signature',
      });
    }
    // A well-formed signature that does not verify passes here: the committer checks it (endorsement-quorum).
    const tampered = { ...env, endorsements: [{ ...env.endorsements[0]!, payloadDigest: 'd'.repeat(64) }] };
    expect(await validateEnvelope(encodeEnvelope(tampered), alice, open)).toMatchObject({ verdict: 'accept' });
  });

  test('not-in-cohort: ignored, not rejected', async () => {
    const ctx = { ...open, cohort: new Set([bob]) };
    const r = await validateEnvelope(encodeEnvelope(propose(alice, { a: 1 })), alice, ctx);
    expect(r).toMatchObject({ verdict: 'ignore', reason: 'not-in-cohort' });
  });
});
