/**
 * The commit path owns the way out to JetStream: accepting an intent durably, the committer that
 * drains the outbox exactly once (lease, unknown-outcome lookups, publish passes in insertion
 * order), and outbox retention. It sees ports only; docs/commit-path.md tells the whole story.
 */
export { IntentIntake, type Accepted, type IntentIntakeOptions } from './intent-intake.js';
export { createCommitMetrics, type CommitMetrics } from './metrics.js';
export { OutboxCommitter, type OutboxCommitterOptions } from './outbox-committer.js';
export { OutboxPruner, type OutboxPrunerOptions } from './outbox-pruner.js';
export { runPublishPass, type PassOptions } from './publish-pass.js';
