/**
 * Every `net-sync` command: its name, help text, options and handler. The shell builds the
 * commander program from this list; handlers live one per file in `./commands/`.
 */
import type { CommandHandler } from './command-context.js';
import { parseDuration, parseHttpUrl, parsePositiveInt } from './option-parsers.js';

/** One command-specific option. */
export interface OptionSpec {
  /** Commander syntax: `--dry-run` (boolean, false when absent), `--since <duration>`. */
  flags: string;
  description: string;
  /** Parses and validates the value; throw commander's InvalidArgumentError (→ exit 2). */
  parse?: (value: string) => unknown;
  /** Value when the option is absent (shown in --help). */
  defaultValue?: unknown;
  /** Name in the handler's options object when it differs from commander's (`since` → `sinceMs`). */
  key?: string;
}

/** One command. `name` may have two words (`streams apply`): the first is the group. */
export interface CommandSpec {
  name: string;
  /** One line, shown in the command list and atop its --help. */
  summary: string;
  /** More help, shown after the options in its --help. */
  help?: string;
  options: readonly OptionSpec[];
  handler: CommandHandler<Record<string, unknown>>;
}

/** Ties a typed handler to its spec; the shell builds the options object from `options`. */
function defineCommand<O>(spec: Omit<CommandSpec, 'handler'> & { handler: CommandHandler<O> }): CommandSpec {
  return spec as unknown as CommandSpec;
}

/**
 * A handler whose module loads when its command runs: `--help` and a short command then skip
 * loading libp2p, NATS, SQLite and fastify (about 2 s of CPU per process otherwise).
 */
function lazy<O>(load: () => Promise<CommandHandler<O>>): CommandHandler<O> {
  return async (ctx, options) => (await load())(ctx, options);
}

/** Descriptions of the command groups. */
export const COMMAND_GROUPS: Readonly<Record<string, string>> = {
  streams: 'Declarative JetStream streams: apply the spec in config, or verify the server matches it',
  config: 'Inspect the effective config',
  federation: 'Federation with partner organisations: the ledger per partner, the audit by replay',
};

/** All commands, in help order. */
export const COMMANDS: readonly CommandSpec[] = [
  defineCommand({
    name: 'start',
    summary: 'Run the sidecar until SIGINT/SIGTERM',
    help: '\nWith no config at all it runs on defaults: NATS at nats://127.0.0.1:4222, ./net-sync.db, quorum 1.',
    options: [],
    handler: lazy(() => import('./commands/start.js').then((m) => m.runStart)),
  }),
  defineCommand({
    name: 'reconcile',
    summary: 'Align the outbox with the stream: mark rows found in JetStream committed, publish the rest',
    options: [
      { flags: '--dry-run', description: 'print the plan, change nothing' },
      { flags: '--verify', description: 'afterwards check every outbox row is in the stream once (exit 1 if not)' },
      {
        flags: '--since <duration>',
        description: 'scan the stream from this long ago (e.g. 2h) instead of from the oldest uncertain row',
        parse: parseDuration,
        key: 'sinceMs',
      },
    ],
    handler: lazy(() => import('./commands/reconcile.js').then((m) => m.runReconcile)),
  }),
  defineCommand({
    name: 'status',
    summary: "Show a running sidecar's state: outbox counts, NATS and mesh health, lag",
    options: [
      {
        flags: '--url <http://host:port>',
        description: 'sidecar API base URL (default: http://<api.listen>)',
        parse: parseHttpUrl,
      },
    ],
    handler: lazy(() => import('./commands/status.js').then((m) => m.runStatus)),
  }),
  defineCommand({
    name: 'federation status',
    summary: 'Show the ledger per partner: sent, acked, rejected, unacked, gaps; exit 1 on a gap or a rejection',
    options: [
      { flags: '--partner <name>', description: 'one partner only' },
      {
        flags: '--url <http://host:port>',
        description: 'sidecar API base URL (default: http://<api.listen>)',
        parse: parseHttpUrl,
      },
    ],
    handler: lazy(() => import('./commands/federation-status.js').then((m) => m.runFederationStatus)),
  }),
  defineCommand({
    name: 'federation verify',
    summary:
      'Audit the stream: our events signed by federation.signers, receipts by the partner, paired; ' +
      'exit 1 on any finding',
    help:
      '\nReads JetStream only (no outbox, no key file). ' +
      'Lists bad events (on our events subjects, not signed by us),\n' +
      'bad acks (invalid, or naming no event of ours, or another digest, or a second time), duplicates (an event\n' +
      'stored more than once) and gaps (verified events without a valid receipt after federation.ackTimeoutMs).',
    options: [
      { flags: '--partner <name>', description: 'one partner only (a partner with send: true)' },
      {
        flags: '--since <duration>',
        description: 'only messages stored this long ago or later (e.g. 24h); default: the whole stream',
        parse: parseDuration,
        key: 'sinceMs',
      },
    ],
    handler: lazy(() => import('./commands/federation-verify.js').then((m) => m.runFederationVerify)),
  }),
  defineCommand({
    name: 'streams apply',
    summary: 'Create or update the declared streams; idempotent',
    options: [{ flags: '--dry-run', description: 'print the diff, change nothing' }],
    handler: lazy(() => import('./commands/streams-apply.js').then((m) => m.runStreamsApply)),
  }),
  defineCommand({
    name: 'streams verify',
    summary: 'Compare the declared streams with the server; exit 1 on drift',
    options: [],
    handler: lazy(() => import('./commands/streams-verify.js').then((m) => m.runStreamsVerify)),
  }),
  defineCommand({
    name: 'keygen',
    summary: 'Write a new Ed25519 libp2p identity (mode 0600) and print its peer ID',
    options: [
      { flags: '--out <file>', description: 'key file to write (default: mesh.keyFile)' },
      { flags: '--force', description: 'replace an existing key file (its peer ID is lost)' },
    ],
    handler: lazy(() => import('./commands/keygen.js').then((m) => m.runKeygen)),
  }),
  defineCommand({
    name: 'demo',
    summary: 'Local end-to-end run: intents in, NATS away and back, nothing lost or duplicated',
    options: [
      // Big enough to show group commit and replay at work, small enough to finish in seconds.
      {
        flags: '--intents <n>',
        description: 'intents submitted while NATS is up',
        parse: parsePositiveInt,
        defaultValue: 500,
      },
      {
        flags: '--outage-intents <n>',
        description: 'intents submitted while NATS is away',
        parse: parsePositiveInt,
        defaultValue: 300,
      },
      { flags: '--sidecars <n>', description: 'sidecar processes to run', parse: parsePositiveInt, defaultValue: 3 },
      { flags: '--no-mesh', description: 'skip the libp2p mesh: each sidecar commits alone (consensus off)' },
      { flags: '--keep', description: 'keep the temp dir (stores, logs) afterwards' },
    ],
    handler: lazy(() => import('./commands/demo.js').then((m) => m.runDemo)),
  }),
  defineCommand({
    name: 'verify',
    summary:
      'Check every command in JetStream: endorsements verify, quorum met, no Nats-Msg-Id twice; exit 1 on failure',
    options: [
      {
        flags: '--since <duration>',
        description: 'only messages stored this long ago or later (e.g. 2h); default: the whole stream',
        parse: parseDuration,
        key: 'sinceMs',
      },
      {
        flags: '--allow-unendorsed',
        description: 'accept messages without endorsements (published with consensus off)',
      },
    ],
    handler: lazy(() => import('./commands/verify.js').then((m) => m.runVerify)),
  }),
  defineCommand({
    name: 'config print',
    summary: 'Print the effective config (defaults < file < env < flags), secrets masked',
    options: [],
    handler: lazy(() => import('./commands/config-print.js').then((m) => m.runConfigPrint)),
  }),
];
