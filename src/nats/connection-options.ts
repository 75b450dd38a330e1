/**
 * The nats.js ConnectionOptions for our `nats` config: auth (user/pass, token, NKey seed file,
 * creds file) and TLS. nats.js does not reconnect by itself: NatsConnector replaces a lost
 * connection with a new one (see there why).
 */
import { readFile } from 'node:fs/promises';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator, type ConnectionOptions } from 'nats';
import type { NatsConfig } from '../config/schema.js';
import { NetSyncError } from '../core/errors.js';

/** Tuning that is not (yet) a config key. */
export interface ConnectionTuning {
  /** Wait for a server's INFO on one dial, ms. */
  connectTimeoutMs: number;
  /** Client PING interval, ms; two unanswered PINGs mark the connection stale. */
  pingIntervalMs: number;
}

/**
 * Builds the options. Reads the NKey seed and creds files; an unreadable one rejects with
 * CONFIG_INVALID naming the key. `waitOnFirstConnect` is off: NatsConnector runs its own,
 * cancellable, first-connect loop.
 */
export async function buildConnectionOptions(c: NatsConfig, tuning: ConnectionTuning): Promise<ConnectionOptions> {
  const o: ConnectionOptions = {
    servers: c.servers,
    name: c.name,
    // nats.js would keep what it could not write and flush it into the next connection; a
    // committer that gave up on a publish must never see it land later (socket-fence.ts).
    reconnect: false,
    maxReconnectAttempts: -1,
    reconnectTimeWait: c.reconnectWaitMs,
    reconnectJitter: c.reconnectJitterMs,
    reconnectJitterTLS: c.reconnectJitterMs,
    // A rejected credential may be fixed server-side: keep trying, never give up.
    ignoreAuthErrorAbort: true,
    waitOnFirstConnect: false,
    timeout: tuning.connectTimeoutMs,
    pingInterval: tuning.pingIntervalMs,
    maxPingOut: 2,
    // nats.js otherwise captures a stack trace per request: ~40% of publish throughput.
    noAsyncTraces: true,
  };
  if (c.user !== undefined) o.user = c.user;
  if (c.pass !== undefined) o.pass = c.pass;
  if (c.token !== undefined) o.token = c.token;
  const authenticators: Authenticator[] = [];
  if (c.nkeySeedFile !== undefined) {
    const seed = (await readConfigFile(c.nkeySeedFile, 'nats.nkeySeedFile')).toString('utf8').trim();
    authenticators.push(nkeyAuthenticator(new TextEncoder().encode(seed)));
  }
  if (c.credsFile !== undefined) {
    authenticators.push(credsAuthenticator(new Uint8Array(await readConfigFile(c.credsFile, 'nats.credsFile'))));
  }
  if (authenticators.length > 0) o.authenticator = authenticators;
  const { caFile, certFile, keyFile } = c.tls;
  if (
    caFile !== undefined ||
    certFile !== undefined ||
    keyFile !== undefined ||
    c.servers.some((s) => s.startsWith('tls://'))
  ) {
    o.tls = {
      ...(caFile === undefined ? {} : { caFile }),
      ...(certFile === undefined ? {} : { certFile }),
      ...(keyFile === undefined ? {} : { keyFile }),
    };
  }
  return o;
}

async function readConfigFile(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new NetSyncError('CONFIG_INVALID', `${field}: cannot read ${path}`, { cause: err, field });
  }
}
