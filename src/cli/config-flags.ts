/**
 * The global options every command accepts: `--config`, `--json`, `--log-level`, the flags
 * mapped to config keys, and the generic `--set key=value`. Flag values are strings handed to
 * `loadConfig` as overrides; it types them by walking the schema, exactly as it does for env.
 */
import { Option, type Command } from 'commander';
import { findConfigKey } from '../config/config-keys.js';
import { collectKeyValue } from './option-parsers.js';

/** A flag that sets one config key. */
export interface ConfigFlag {
  /** Commander flag syntax, e.g. `--api-listen <host:port>`. */
  flags: string;
  /** Dotted config key it sets. */
  key: string;
  /** Help text (the env variable is appended). */
  description: string;
}

/** Flags mapped to config keys; they win over `--set` for the same key. */
export const CONFIG_FLAGS: ReadonlyArray<ConfigFlag> = [
  { flags: '--log-level <level>', key: 'log.level', description: 'fatal|error|warn|info|debug|trace|silent' },
  { flags: '--nats-servers <urls>', key: 'nats.servers', description: 'NATS server URLs, comma-separated' },
  { flags: '--api-listen <host:port>', key: 'api.listen', description: 'local HTTP API address' },
  { flags: '--buffer-path <file>', key: 'buffer.path', description: 'SQLite outbox file' },
  { flags: '--mesh-listen <addrs>', key: 'mesh.listen', description: 'libp2p listen multiaddrs, comma-separated' },
  {
    flags: '--mesh-announce <addrs>',
    key: 'mesh.announce',
    description: 'multiaddrs announced to peers, comma-separated',
  },
  {
    flags: '--mesh-peers <addrs>',
    key: 'mesh.peers',
    description: 'static peers (multiaddrs ending in /p2p/<id>), comma-separated',
  },
  { flags: '--mesh-key-file <file>', key: 'mesh.keyFile', description: 'libp2p identity file (mode 0600)' },
  { flags: '--consensus-quorum <n|majority>', key: 'consensus.quorum', description: 'endorsements needed' },
  {
    flags: '--consensus-cohort <ids>',
    key: 'consensus.cohort',
    description: 'peer IDs allowed to endorse, comma-separated',
  },
  { flags: '--telemetry-scout [bool]', key: 'telemetry.scout', description: 'summarise telemetry gossip into NATS' },
  { flags: '--subjects-prefix <p>', key: 'subjects.prefix', description: 'subject taxonomy root' },
];

const HELP_AFTER = `
Config: defaults < --config FILE (YAML or JSON) < env < flags. Every key is settable by env as
NET_SYNC_<SECTION>_<KEY> (camelCase → SNAKE_CASE, lists comma-separated, e.g.
NET_SYNC_NATS_TLS_CA_FILE, NET_SYNC_NATS_SERVERS=nats://a:4222,nats://b:4222) and by
--set <key>=<value> (e.g. --set commit.window=512). \`net-sync config print\` shows the result.
Exit codes: 0 ok, 1 failure, 2 bad usage or config.`;

/** Adds the global options (and their help epilogue) to the root command. */
export function addGlobalOptions(program: Command): void {
  program.option('--config <file>', 'config file, YAML or JSON').option('--json', 'print one JSON document on stdout');
  for (const flag of CONFIG_FLAGS) {
    const env = findConfigKey(flag.key)?.env;
    program.addOption(new Option(flag.flags, `${flag.description} (${flag.key}; env ${env ?? '-'})`));
  }
  program.option('--set <key=value>', 'set any config key; repeatable', collectKeyValue);
  program.addHelpText('after', HELP_AFTER);
}

const BOOLEAN_WORDS = new Set(['true', 'false', '1', '0']);

/**
 * Commander lets an optional-value flag swallow the next word, so `--telemetry-scout start`
 * would read "start" as the value. Rewrites such a flag to `--flag=true` unless the next word
 * is a boolean (`true/false/1/0`); `--flag=value` and anything after `--` are left alone.
 */
export function normalizeOptionalFlags(argv: readonly string[]): string[] {
  const optional = new Set(CONFIG_FLAGS.filter((f) => f.flags.includes('[')).map((f) => new Option(f.flags).long));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return [...out, ...argv.slice(i)];
    const next = argv[i + 1];
    const takesNext = next !== undefined && BOOLEAN_WORDS.has(next.toLowerCase());
    out.push(optional.has(arg) && !takesNext ? `${arg}=true` : arg);
  }
  return out;
}

/** What `loadConfig` needs from the parsed global options. */
export interface ConfigInput {
  file?: string;
  overrides: Record<string, unknown>;
  overrideSources: Record<string, string>;
}

/** Turns parsed global options (commander's `optsWithGlobals()`) into `loadConfig` input. */
export function configInputFrom(opts: Record<string, unknown>): ConfigInput {
  const overrides: Record<string, unknown> = {};
  const overrideSources: Record<string, string> = {};
  for (const pair of (opts['set'] as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq).trim();
    overrides[key] = pair.slice(eq + 1);
    overrideSources[key] = `--set ${key}`;
  }
  for (const flag of CONFIG_FLAGS) {
    const option = new Option(flag.flags);
    const value = opts[option.attributeName()];
    if (value === undefined) continue;
    overrides[flag.key] = value;
    overrideSources[flag.key] = option.long ?? flag.flags;
  }
  const file = typeof opts['config'] === 'string' ? opts['config'] : undefined;
  return file === undefined ? { overrides, overrideSources } : { file, overrides, overrideSources };
}
