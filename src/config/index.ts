/**
 * src/config owns the config: the one schema (with a reason for every default), loading it
 * from defaults < file < env (`NET_SYNC_*`) < flags, the key-naming {@link ConfigError}, and
 * printing it with secrets masked. It reads no argv and no env of its own: `src/cli` passes them in.
 */
export * from './schema.js';
export { loadConfig, type LoadConfigOptions } from './load-config.js';
export { ConfigError, formatConfigIssue, type ConfigIssue } from './config-error.js';
export {
  CONFIG_KEYS,
  ENV_PREFIX,
  deriveConfigKeys,
  envNameOf,
  findConfigKey,
  findConfigKeyByEnv,
  toSnakeCase,
  type ConfigKey,
  type ScalarType,
  type ValueShape,
} from './config-keys.js';
export { coerceConfigValue, type Coerced } from './coerce-value.js';
export { readConfigFile } from './read-config-file.js';
export { maskSecrets, printConfig, SECRET_MASK, type ConfigFormat } from './print-config.js';
export { formatKeyPath } from './zod-issues.js';
export { parseMembersFile, readMembers } from './members-file.js';
