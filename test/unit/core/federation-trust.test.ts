import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DecodedEnvelope, decodeEnvelope, encodeEnvelope } from '../../../src/core/dsse.js';
import {
  checkThreshold,
  type DsseSigner,
  keyStanding,
  signEnvelope,
  type TrustedKey,
} from '../../../src/core/federation-trust.js';
import { base58Decode, ed25519KeyOfPeerId, isEd25519PeerId } from '../../../src/core/peer-key.js';
import { ed25519Verifier, Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const body = new TextEncoder().encode('{"eventId":"e1"}');
let signers: DsseSigner[] = [];
let ids: string[] = [];

async function envelope(by: readonly DsseSigner[], type = 'application/x'): Promise<DecodedEnvelope> {
  const d = decodeEnvelope(encodeEnvelope(await signEnvelope(type, body, by)));
  if (!d.ok) throw new Error(d.message);
  return d.envelope;
}

beforeAll(async () => {
  const keys = await Promise.all([1, 2, 3, 4].map(() => generateKeyPair('Ed25519')));
  ids = keys.map((k) => peerIdFromPrivateKey(k).toString());
  signers = keys.map((k, i) => new Ed25519Signer(ids[i]!, k.raw));
});

describe('Ed25519 keys inside peer IDs', () => {
  it('reads the public key libp2p put in the ID', async () => {
    const key = await generateKeyPair('Ed25519');
    const id = peerIdFromPrivateKey(key).toString();
    expect(ed25519KeyOfPeerId(id)).toEqual(key.publicKey.raw);
    expect(isEd25519PeerId(id)).toBe(true);
  });

  it('refuses other IDs and malformed text', async () => {
    const secp = peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString();
    for (const bad of [secp, 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', `${ids[0]!.slice(0, -1)}0`, '', 'x'])
      expect(isEd25519PeerId(bad), bad).toBe(false);
    expect(base58Decode('1112')).toEqual(Uint8Array.from([0, 0, 0, 1]));
    expect(base58Decode('0OIl')).toBeNull();
  });
});

describe('key validity windows', () => {
  it('valid from notBefore (inclusive) until notAfter (exclusive)', () => {
    const k: TrustedKey = { id: 'k', notBeforeMs: T0, notAfterMs: T0 + 1_000 };
    expect(keyStanding(k, T0 - 1)).toBe('not-yet-valid');
    expect(keyStanding(k, T0)).toBe('valid');
    expect(keyStanding(k, T0 + 999)).toBe('valid');
    expect(keyStanding(k, T0 + 1_000)).toBe('retired');
    expect(keyStanding({ id: 'k' }, 0)).toBe('valid');
  });
});

describe('t-of-n (DSSE multi-signature rule)', () => {
  const trust = (): TrustedKey[] => ids.slice(0, 3).map((id) => ({ id }));

  it('holds with t distinct verifying keys, and names them', async () => {
    const v = await checkThreshold(await envelope(signers.slice(0, 2)), trust(), 2, T0, ed25519Verifier);
    expect(v).toEqual({ ok: true, signers: ids.slice(0, 2) });
    const one = await checkThreshold(await envelope(signers.slice(0, 1)), trust(), 1, T0, ed25519Verifier);
    expect(one.ok).toBe(true);
  });

  it('counts one key once, however often it signed', async () => {
    const v = await checkThreshold(await envelope([signers[0]!, signers[0]!]), trust(), 2, T0, ed25519Verifier);
    expect(v).toEqual({ ok: false, reason: 'below-threshold', signers: [ids[0]] });
  });

  it('refuses an unsigned envelope as below-threshold', async () => {
    expect(await checkThreshold(await envelope([]), trust(), 1, T0, ed25519Verifier)).toMatchObject({
      ok: false,
      reason: 'below-threshold',
    });
  });

  it('names an unknown key, a retired key, a key not yet valid and a bad signature', async () => {
    const unknown = await checkThreshold(await envelope([signers[3]!]), trust(), 1, T0, ed25519Verifier);
    expect(unknown).toMatchObject({ ok: false, reason: 'untrusted-key' });
    const windows: TrustedKey[] = [
      { id: ids[0]!, notAfterMs: T0 },
      { id: ids[1]!, notBeforeMs: T0 + 1 },
    ];
    const retired = await checkThreshold(await envelope([signers[0]!]), windows, 1, T0, ed25519Verifier);
    expect(retired).toMatchObject({ ok: false, reason: 'retired-key' });
    // Judged at an earlier time (when our stream stored it), the same key still counts.
    expect((await checkThreshold(await envelope([signers[0]!]), windows, 1, T0 - 1, ed25519Verifier)).ok).toBe(true);
    const early = await checkThreshold(await envelope([signers[1]!]), windows, 1, T0, ed25519Verifier);
    expect(early).toMatchObject({ ok: false, reason: 'untrusted-key' });
    const env = await envelope(signers.slice(0, 2));
    const tampered = { ...env, body: new TextEncoder().encode('{"eventId":"e2"}') };
    expect(await checkThreshold(tampered, trust(), 2, T0, ed25519Verifier)).toMatchObject({
      ok: false,
      reason: 'bad-signature',
    });
    const retypes = { ...env, payloadType: 'application/y' };
    expect(await checkThreshold(retypes, trust(), 1, T0, ed25519Verifier)).toMatchObject({ reason: 'bad-signature' });
  });

  it('a retired key plus one valid key is below a threshold of 2', async () => {
    const keys: TrustedKey[] = [{ id: ids[0]!, notAfterMs: T0 }, { id: ids[1]! }];
    const v = await checkThreshold(await envelope(signers.slice(0, 2)), keys, 2, T0, ed25519Verifier);
    expect(v).toEqual({ ok: false, reason: 'below-threshold', signers: [ids[1]] });
  });

  it('verifies as many signatures at once as are still needed, then the next ones if some fail', async () => {
    const env = await envelope(signers.slice(0, 3));
    const rounds: string[][] = [];
    let open: Array<{ keyid: string; resolve: (ok: boolean) => void }> = [];
    const bad = new Set([ids[1]!]);
    const deferred = {
      verify: (keyid: string) => new Promise<boolean>((resolve) => open.push({ keyid, resolve })),
    };
    const verdict = checkThreshold(env, trust(), 2, T0, deferred);
    // Answer each round only once everything it asked for is asked: what was asked together is a round.
    for (let i = 0; i < 10 && rounds.length < 2; i++) {
      await new Promise((r) => setImmediate(r));
      if (open.length === 0) continue;
      const round = open;
      open = [];
      rounds.push(round.map((o) => o.keyid));
      for (const o of round) o.resolve(!bad.has(o.keyid));
    }
    expect(rounds).toEqual([[ids[0], ids[1]], [ids[2]]]);
    expect(await verdict).toEqual({ ok: true, signers: [ids[0], ids[2]] });
  });

  it('counts a key whose first signature is bad and a later one holds', async () => {
    const env = await envelope([signers[0]!, signers[0]!, signers[1]!]);
    const first = env.signatures[0]!;
    const broken = { ...env, signatures: [{ ...first, sig: first.sig.map((b) => b ^ 1) }, ...env.signatures.slice(1)] };
    expect(await checkThreshold(broken, trust(), 2, T0, ed25519Verifier)).toEqual({
      ok: true,
      signers: [ids[0], ids[1]],
    });
  });

  it('never verifies a signature by a key it does not trust', async () => {
    let calls = 0;
    const counting = {
      verify: () => {
        calls++;
        return true;
      },
    };
    await checkThreshold(await envelope([signers[3]!, signers[0]!]), trust(), 2, T0, counting);
    expect(calls).toBe(1);
  });
});
