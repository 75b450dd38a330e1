/**
 * The cohort's side of a federation event with consensus on (docs/federation.md, Sending with
 * consensus on): what an endorser checks before it signs a proposed event (its own `send`
 * partners and subjects), its DSSE signature with its federation key, and the check the promoting
 * node makes of every signature it assembles (a key of `federation.signers`, verifying over PAE).
 */
import { base64Decode, base64Encode, type DsseSignature, pae } from '../core/dsse.js';
import {
  checkCohortEvent,
  type CohortEventProposal,
  type CohortEventRules,
  type CohortFederation,
} from '../core/federation-cohort.js';
import { FEDERATION_EVENT_TYPE } from '../core/federation-message.js';
import type { DsseSigner, SignatureVerifier } from '../core/federation-trust.js';

/** Collaborators of {@link CohortSigning}. */
export interface CohortSigningOptions {
  rules: CohortEventRules;
  /** This node's federation key. */
  signer: DsseSigner;
  verifier: SignatureVerifier;
  /** `federation.signers`: the keys partners pin for us. */
  signers: readonly string[];
}

const encoder = new TextEncoder();

/** Checks, signs and verifies the cohort's signatures of federation events. */
export class CohortSigning implements CohortFederation {
  private readonly signers: ReadonlySet<string>;

  constructor(private readonly opts: CohortSigningOptions) {
    this.signers = new Set(opts.signers);
  }

  check(item: CohortEventProposal, origin: string): string | null {
    return checkCohortEvent(item, origin, this.opts.rules);
  }

  async sign(text: string): Promise<DsseSignature> {
    const sig = await this.opts.signer.sign(pae(FEDERATION_EVENT_TYPE, encoder.encode(text)));
    return { keyid: this.opts.signer.keyid, sig: base64Encode(sig) };
  }

  async verify(sig: DsseSignature, text: string): Promise<boolean> {
    if (!this.signers.has(sig.keyid)) return false;
    const bytes = base64Decode(sig.sig);
    if (bytes === null) return false;
    return this.opts.verifier.verify(sig.keyid, pae(FEDERATION_EVENT_TYPE, encoder.encode(text)), bytes);
  }
}
