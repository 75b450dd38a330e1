/**
 * Federation with partner organisations (docs/federation.md): events signed for a partner
 * (DSSE) and committed exactly once through the outbox, partners' events received, verified,
 * recorded, receipted and pushed once, and partners' receipts read back and applied. The rules
 * are pure (`core/dsse.ts`, `core/federation-*.ts`); this folder sees the ports only.
 */
export {
  type CohortEvent,
  FederationIntake,
  type FederationIntakeOptions,
  type SendPartner,
} from './federation-intake.js';
export {
  type FederationDelivery,
  type FederationPusher,
  FederationReceiver,
  type FederationReceiverOptions,
  type ReceivePartner,
  type ReceiveSettings,
} from './federation-receiver.js';
export {
  type AckPartner,
  FederationAcks,
  type FederationAcksOptions,
  type OurStoredEvents,
  type RefusedAck,
} from './federation-acks.js';
export {
  type AuditScanner,
  type VerifyFederationOptions,
  type VerifyPartner,
  verifyFederation,
} from './federation-verify.js';
export { FederationLedger, type FederationLedgerOptions } from './federation-ledger.js';
export { createFederationMetrics, type FederationMetrics, registerFederationGauges } from './metrics.js';
export { CohortSigning, type CohortSigningOptions } from './cohort-signing.js';
