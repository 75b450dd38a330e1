/**
 * A JetStream cluster of nats-server processes with routes on loopback: the stand-in for
 * production scale (R3 streams). Ready once a replicas-3 stream can be created.
 */
import { connect, type NatsConnection } from 'nats';
import { NetSyncError } from '../core/errors.js';
import { freePort, NatsServerProcess, type NatsServerOptions } from './nats-server-process.js';

/** A running cluster. */
export interface NatsCluster {
  /** The servers, in order (`n1`, `n2`, …). */
  readonly servers: NatsServerProcess[];
  /** Client URLs of all servers, for `nats.servers`. */
  readonly urls: string[];
  /** Stops every server (SIGTERM then SIGKILL) and removes temp files. Safe twice. */
  dispose(): Promise<void>;
}

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** Cluster name. Default `net-sync`. */
  name?: string;
  /** Extra config text for every server (auth, max_payload…). */
  config?: string;
  /** Monitoring ports on every server. */
  httpPort?: boolean;
  /** How long to wait for a meta leader (an R3 stream can be created). Default 30 s. */
  readyTimeoutMs?: number;
}

/** Starts `n` (default 3) clustered JetStream servers and waits until R3 streams can be created. */
export async function startNatsCluster(n = 3, opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const name = opts.name ?? 'net-sync';
  const clusterPorts: number[] = [];
  for (let i = 0; i < n; i++) clusterPorts.push(await freePort());
  const routes = clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
  const servers: NatsServerProcess[] = [];
  const cluster: NatsCluster = {
    servers,
    get urls() {
      return servers.map((s) => s.url);
    },
    dispose: async () => {
      await Promise.all(servers.map((s) => s.dispose()));
    },
  };
  try {
    const started = await Promise.allSettled(
      clusterPorts.map((cport, i) => {
        const serverOpts: NatsServerOptions = {
          serverName: `n${i + 1}`,
          httpPort: opts.httpPort,
          config: [
            `cluster { name: ${JSON.stringify(name)}, listen: "127.0.0.1:${cport}", routes: [${routes}] }`,
            opts.config ?? '',
          ].join('\n'),
        };
        return NatsServerProcess.start(serverOpts);
      }),
    );
    for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    await waitForMetaLeader(cluster.urls, opts.readyTimeoutMs ?? 30_000);
    return cluster;
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
}

// Creates and deletes an R3 probe stream until that succeeds: then a meta leader is elected and
// enough peers are current for R3 streams.
async function waitForMetaLeader(urls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc: NatsConnection = await connect({ servers: urls, noAsyncTraces: true, timeout: 5_000 });
  const probe = `__net_sync_ready_${process.pid}_${Date.now()}`;
  let last: unknown;
  try {
    const jsm = await nc.jetstreamManager({ timeout: 2_000, checkAPI: false });
    while (Date.now() < deadline) {
      try {
        await jsm.streams.add({ name: probe, subjects: [`${probe}.>`], num_replicas: 3 });
        await jsm.streams.delete(probe);
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new NetSyncError('INTERNAL', `JetStream cluster not ready after ${timeoutMs} ms`, { cause: last });
  } finally {
    await nc.close();
  }
}
