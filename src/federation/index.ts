/**
 * Federation with partner organisations (docs/federation.md): events signed for a partner
 * (DSSE) and committed exactly once through the outbox. The rules are pure (`core/dsse.ts`,
 * `core/federation-*.ts`); this folder sees the ports only.
 */
export { FederationIntake, type FederationIntakeOptions, type SendPartner } from './federation-intake.js';
export { createFederationMetrics, type FederationMetrics } from './metrics.js';
