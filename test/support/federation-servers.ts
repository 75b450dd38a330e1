/**
 * Issue 20's two organisations on real nats-server processes, for the federation acceptance run
 * and the federation benchmarks alike (no vitest here: the benchmarks import it from dist/).
 * ORG's hub and acme's own server start from `examples/federation/hub.conf` and `partner.conf`
 * with ports and store dirs substituted; acme's leaf node dials the hub through a
 * {@link FaultProxy}, so it can be cut; both servers expose monitoring (`/leafz`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reapOnExit } from '../../src/devkit/child-reaper.js';
import { freePort, NATS_SERVER_BINARY } from '../../src/devkit/nats-server-process.js';
import { FaultProxy } from '../chaos/harness/fault-proxy.js';
import { Prng } from '../chaos/harness/prng.js';

/** A nats-server process started from a config text. */
export interface ConfiguredNats {
  child: ChildProcess;
  /** SIGTERM to its PID, then waits for the exit. Safe twice. */
  stop(): Promise<void>;
}

/** Starts nats-server on `configText` (written to `<dir>/<name>.conf`) and waits until it is ready. */
export async function spawnNatsFromConfig(
  dir: string,
  name: string,
  configText: string,
  env: Record<string, string>,
  readyTimeoutMs = 20_000,
): Promise<ConfiguredNats> {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, configText);
  const child: ChildProcess = spawn(NATS_SERVER_BINARY, ['-c', file], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  reapOnExit(child);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  };
  let log = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready: ${log.slice(-2000)}`)), readyTimeoutMs);
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        log = (log + d).slice(-20_000);
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`${name} exited ${code}: ${log.slice(-2000)}`)));
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, stop };
}

/** The passwords the example configs read from their environment. */
export const FEDERATION_SECRETS = {
  ORG_PASSWORD: 'org-pw',
  ACME_PASSWORD: 'acme-pw',
  ACME_LEAF_PASSWORD: 'leaf-pw',
} as const;
export const ORG_AUTH = { user: 'org', pass: FEDERATION_SECRETS.ORG_PASSWORD };
export const ACME_AUTH = { user: 'acme', pass: FEDERATION_SECRETS.ACME_PASSWORD };

/** The two running servers and the proxy on acme's leaf link. */
export interface FederationServers {
  hubUrl: string;
  acmeUrl: string;
  hubPort: number;
  acmePort: number;
  /** Monitoring base URLs, e.g. `${hubHttp}/leafz`. */
  hubHttp: string;
  acmeHttp: string;
  /** acme's leaf node dials the hub through this proxy. */
  leaf: FaultProxy;
  /** Stops the partner, the hub and the proxy. */
  stop(): Promise<void>;
}

/** Starts ORG's hub and acme's server from `examplesDir` (examples/federation), the leaf through a proxy. */
export async function startFederationServers(dir: string, examplesDir: string): Promise<FederationServers> {
  const [hubPort, leafPort, acmePort, hubMon, acmeMon] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const leaf = await FaultProxy.start({
    name: 'acme-leaf',
    target: { host: '127.0.0.1', port: leafPort },
    rng: new Prng(20),
  });
  const started: ConfiguredNats[] = [];
  const stop = async (): Promise<void> => {
    for (const s of started.reverse()) await s.stop();
    await leaf.stop();
  };
  try {
    // The hub tells every leaf its leaf URL in INFO whatever no_advertise says (that option only
    // keeps it from cluster routes), and a leaf cut at the proxy reconnects to it directly: the
    // hub must advertise the proxy. (Older copies of hub.conf had no `advertise` line.)
    let hub = readFileSync(join(examplesDir, 'hub.conf'), 'utf8')
      .replace('127.0.0.1:4222', `127.0.0.1:${hubPort}`)
      .replace('listen: 127.0.0.1:7422', `listen: 127.0.0.1:${leafPort}`)
      .replace('/var/lib/nats/org-hub', join(dir, 'hub'));
    hub = /^\s*advertise: 127\.0\.0\.1:7422$/m.test(hub)
      ? hub.replace('advertise: 127.0.0.1:7422', `advertise: 127.0.0.1:${leaf.port}`)
      : hub.replace(
          `listen: 127.0.0.1:${leafPort}`,
          `listen: 127.0.0.1:${leafPort}\n  advertise: 127.0.0.1:${leaf.port}`,
        );
    started.push(
      await spawnNatsFromConfig(dir, 'hub', `${hub}\nhttp: 127.0.0.1:${hubMon}\n`, { ...FEDERATION_SECRETS }),
    );
    started.push(
      await spawnNatsFromConfig(
        dir,
        'partner',
        `${readFileSync(join(examplesDir, 'partner.conf'), 'utf8')
          .replace('127.0.0.1:4223', `127.0.0.1:${acmePort}`)
          .replace('/var/lib/nats/acme', join(dir, 'acme'))}\nhttp: 127.0.0.1:${acmeMon}\n`,
        {
          ...FEDERATION_SECRETS,
          ACME_HUB_URL: `nats-leaf://acme-leaf:${FEDERATION_SECRETS.ACME_LEAF_PASSWORD}@127.0.0.1:${leaf.port}`,
        },
      ),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    hubUrl: `nats://127.0.0.1:${hubPort}`,
    acmeUrl: `nats://127.0.0.1:${acmePort}`,
    hubPort,
    acmePort,
    hubHttp: `http://127.0.0.1:${hubMon}`,
    acmeHttp: `http://127.0.0.1:${acmeMon}`,
    leaf,
    stop,
  };
}

/** How many leaf nodes the server behind `monitorUrl` has connected now (its `/leafz`). */
export async function leafCount(monitorUrl: string): Promise<number> {
  const res = await fetch(`${monitorUrl}/leafz`, { signal: AbortSignal.timeout(2_000) });
  const doc = (await res.json()) as { leafnodes?: number };
  return doc.leafnodes ?? 0;
}
