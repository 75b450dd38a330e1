// Acceptance, deployment files (docs/operations.md): there is no Docker engine or cluster here, so the
// files are parsed and their wiring checked: ports, volumes, env (validated by loadConfig, the
// real config schema), healthchecks and probes (against the API's real routes), config paths.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load-config.js';
import { generateIdentity, identityPeerId } from '../../../src/mesh/identity.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');
/** GET routes the API really serves, read from its source. */
const API_GETS = [...read('src/api/api-server.ts').matchAll(/this\.app\.get(?:<[^>]*>)?\('([^']+)'/g)].map((m) => m[1]);
/** `net-sync start`'s SIGTERM drain bound, ms. */
const DRAIN_MS = Number(/DRAIN_TIMEOUT_MS = ([\d_]+)/.exec(read('src/cli/commands/start.ts'))![1]!.replace(/_/g, ''));

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const lines = text.split('\n').filter((l) => !l.startsWith('#'));
  const stages = [...text.matchAll(/^FROM (\S+) AS (\S+)$/gm)].map((m) => ({ image: m[1], name: m[2] }));
  const runtime = text.slice(text.indexOf('AS runtime'));

  it('builds on node:20-bookworm with the native toolchain and runs on node:20-bookworm-slim', () => {
    expect(stages).toEqual([
      { image: 'node:20-bookworm', name: 'build' },
      { image: 'node:20-bookworm-slim', name: 'runtime' },
    ]);
    expect(text.slice(0, text.indexOf('AS runtime'))).toMatch(/apt-get install[^\n]*python3 make g\+\+/);
    expect(text).toMatch(/npm ci/);
    expect(text).toMatch(/npm prune --omit=dev/);
    expect(runtime).not.toMatch(/npm (ci|install)/);
  });

  it('copies only paths that exist and runs the built CLI as a non-root user', () => {
    for (const m of lines.join('\n').matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(' ')) expect(existsSync(join(ROOT, src)), src).toBe(true);
    }
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime.indexOf('USER node')).toBeLessThan(runtime.indexOf('ENTRYPOINT'));
    expect(runtime).toMatch(/ENTRYPOINT \["node", "dist\/src\/cli\/main.js"\]/);
    expect(existsSync(join(ROOT, 'src/cli/main.ts'))).toBe(true);
  });

  it('has a HEALTHCHECK on /healthz, a real unauthenticated route', () => {
    expect(runtime).toMatch(/HEALTHCHECK [^\n]*\\\n\s+CMD [^\n]*\/healthz/);
    expect(API_GETS).toContain('/healthz');
  });
});

/** The parts of a docker-compose.yml service these tests read. */
interface ComposeService {
  image: string;
  command: string[];
  build: unknown;
  depends_on: unknown;
  environment: Record<string, string>;
  healthcheck: { test: string[] };
  ports: string[];
  volumes: string[];
  secrets: Array<{ source: string; target: string }>;
}

/** The parts of docker-compose.yml (merge keys applied) these tests read. */
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as ComposeFile;
  const ids: string[] = [];
  const env: Record<string, string> = {};
  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) {
      ids.push(identityPeerId(await generateIdentity()));
      env[`NET_SYNC_PEER_ID_${i}`] = ids[i - 1]!;
    }
    Object.assign(env, {
      NATS_BRIDGE_PASSWORD: 'b',
      NET_SYNC_API_TOKEN: 't',
      NATS_ADMIN_PASSWORD: 'a',
      NATS_BRIDGE_SENTIMENT_PASSWORD: 's',
    });
  });
  // Compose interpolation of ${VAR:?message}, as `docker compose` does from .env.
  const interpolate = (v: string): string =>
    v.replace(/\$\{([A-Z0-9_]+)(:\?[^}]*)?\}/g, (_, name: string) => {
      if (env[name] === undefined) throw new Error(`${name} unset`);
      return env[name]!;
    });
  const sidecars = ['sidecar-1', 'sidecar-2', 'sidecar-3'];

  it('runs nats 2.10 from a mounted config with JetStream, sync_interval always, monitoring and a healthcheck', () => {
    const nats = compose.services['nats']!;
    expect(nats.image).toBe('nats:2.10-alpine');
    const configPath = nats.command[nats.command.indexOf('--config') + 1]!;
    const mounts = new Map<string, string>(nats.volumes.map((v) => [v.split(':')[1]!, v.split(':')[0]!]));
    const hostConf = mounts.get(configPath)!;
    expect(existsSync(join(ROOT, hostConf)), hostConf).toBe(true);
    const conf = read(hostConf);
    expect(conf).toMatch(/jetstream \{[^}]*store_dir: \/data[^}]*sync_interval: always/s);
    expect(conf).toMatch(/^http_port: 8222$/m);
    expect(conf).toMatch(/^port: 4222$/m);
    // The include sits beside the config in the container.
    const include = /include "([^"]+)"/.exec(conf)![1]!;
    expect(existsSync(join(ROOT, mounts.get(posix.join(posix.dirname(configPath), include))!))).toBe(true);
    expect(mounts.get('/data')).toBe('nats-data');
    expect(nats.healthcheck.test.join(' ')).toContain('http://127.0.0.1:8222/healthz');
    expect(nats.ports).toEqual(['127.0.0.1:4222:4222', '127.0.0.1:8222:8222']);
    for (const k of Object.keys(nats.environment))
      expect(read('examples/nats-least-privilege.conf')).toContain(`$${k}`);
  });

  it('runs 3 sidecars built from the Dockerfile, after nats is healthy, each with its own named volume', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['nats', ...sidecars]);
    const vols = new Set<string>();
    for (const name of sidecars) {
      const s = compose.services[name]!;
      expect(s.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(s.depends_on).toEqual({ nats: { condition: 'service_healthy' } });
      const [vol, path] = s.volumes[0]!.split(':') as [string, string];
      expect(compose.volumes).toHaveProperty(vol);
      expect(path).toBe(posix.dirname(s.environment['NET_SYNC_BUFFER_PATH']!));
      vols.add(vol);
      const secret = compose.secrets[s.secrets[0]!.source]!;
      expect(secret.file).toMatch(/^\.\/deploy\/keys\/sidecar-\d\.key$/);
      expect(s.environment['NET_SYNC_MESH_KEY_FILE']).toBe(`/run/secrets/${s.secrets[0]!.target}`);
      expect(read('.gitignore')).toMatch(/^\*\.key$/m);
    }
    expect(vols.size).toBe(3);
    expect(compose.volumes).toHaveProperty('nats-data');
  });

  it('gives every sidecar a config that loadConfig accepts, meshed with the two others', () => {
    const apiPorts = new Set<string>();
    for (const [i, name] of sidecars.entries()) {
      const raw = compose.services[name]!.environment;
      const e = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v))]));
      const config = loadConfig({ env: e });
      expect(config.nats.servers).toEqual(['nats://nats:4222']);
      expect(read('examples/nats-least-privilege.conf')).toContain(`user: ${config.nats.user}\n`);
      expect(config.consensus.cohort).toEqual(ids);
      expect(config.mesh.enabled).toBe(true);
      const meshPort = config.mesh.listen[0]!.split('/').pop();
      const others = sidecars
        .filter((_, j) => j !== i)
        .map((n, k) => `/dns4/${n}/tcp/${meshPort}/p2p/${ids.filter((_, j) => j !== i)[k]}`);
      expect(config.mesh.peers).toEqual(others);
      expect(config.mesh.announce).toEqual([`/dns4/${name}/tcp/${meshPort}`]);
      const [host, , container] = compose.services[name]!.ports[0]!.split(':');
      expect(host).toBe('127.0.0.1');
      expect(container).toBe(config.api.listen.split(':')[1]);
      apiPorts.add(compose.services[name]!.ports[0]!);
      expect(config.api.token).toBe('t');
    }
    expect(apiPorts.size).toBe(3);
    expect(read('deploy/compose-keys.sh')).toMatch(/NET_SYNC_PEER_ID_\$i/);
  });
});

describe('3-node NATS cluster configs', () => {
  const confs = [1, 2, 3].map((i) => read(`deploy/nats/cluster/nats-${i}.conf`));
  const field = (c: string, re: RegExp): string => re.exec(c)![1]!;

  it('share a cluster name and routes that reach every node on its cluster port', () => {
    const names = confs.map((c) => field(c, /^server_name: (\S+)$/m));
    expect(new Set(names).size).toBe(3);
    expect(new Set(confs.map((c) => field(c, /cluster \{\s*name: (\S+)/)))).toEqual(new Set(['net-sync']));
    for (const c of confs) {
      const port = field(c, /listen: 0\.0\.0\.0:(\d+)/);
      const routes = [...c.matchAll(/nats-route:\/\/([^:]+):(\d+)/g)].map((m) => [m[1], m[2]]);
      expect(routes.map((r) => r[0]).sort()).toEqual([...names].sort());
      for (const r of routes) expect(r[1]).toBe(port);
      expect(c).toMatch(/sync_interval: always/);
    }
  });
});

describe('systemd unit', () => {
  const unit = read('deploy/systemd/net-sync.service');
  const service = Object.fromEntries(
    unit
      .slice(unit.indexOf('[Service]'))
      .split('\n')
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

  it('is hardened, restarts on failure and gives SIGTERM more time than the drain', () => {
    expect(service).toMatchObject({
      DynamicUser: 'yes',
      StateDirectory: 'net-sync',
      ProtectSystem: 'strict',
      NoNewPrivileges: 'yes',
      Restart: 'on-failure',
      KillSignal: 'SIGTERM',
    });
    expect(Number(service['TimeoutStopSec']) * 1000).toBeGreaterThan(DRAIN_MS);
    expect(service['ExecStart']).toMatch(/dist\/src\/cli\/main\.js start --config \/etc\/net-sync\/net-sync\.yaml$/);
    expect(service['WorkingDirectory']).toBe('/var/lib/net-sync');
    for (const l of unit.split('\n').filter((x) => x.startsWith('Environment=NET_SYNC_'))) {
      const [k, v] = l.slice('Environment='.length).split('=');
      expect(() => loadConfig({ env: { [k!]: v! } })).not.toThrow();
      expect(v!.startsWith('/var/lib/net-sync/'), `${k} inside the StateDirectory`).toBe(true);
    }
  });
});

/** An exec probe of a Kubernetes container. */
interface K8sProbe {
  exec: { command: string[] };
}

/** The parts of a Kubernetes container these tests read. */
interface K8sContainer {
  name: string;
  args: string[];
  volumeMounts: Array<{ name: string; mountPath: string }>;
  envFrom: Array<{ secretRef: { name: string } }>;
  livenessProbe: K8sProbe;
  startupProbe: K8sProbe;
  readinessProbe: K8sProbe;
}

/** The parts of a Kubernetes pod spec these tests read. */
interface K8sPodSpec {
  containers: K8sContainer[];
  securityContext: { runAsNonRoot: boolean };
  terminationGracePeriodSeconds: number;
  volumes: Array<{ name: string; secret?: { secretName: string }; persistentVolumeClaim?: { claimName: string } }>;
}

/** The parts of one document of the Kubernetes manifest these tests read (which ones depends on `kind`). */
interface K8sDoc {
  kind: string;
  metadata: { name: string };
  spec: { template: { spec: K8sPodSpec } };
  data: Record<string, string>;
  stringData: Record<string, string>;
}

describe('Kubernetes manifest', () => {
  const docs = parseAllDocuments(read('deploy/k8s/net-sync-sidecar.yaml')).map((d) => d.toJS() as K8sDoc);
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
  const deployment = byKind('Deployment')[0]!;
  const pod = deployment.spec.template.spec;
  const sidecar = pod.containers.find((c) => c.name === 'net-sync')!;
  const mountOf = (name: string): string => sidecar.volumeMounts.find((m) => m.name === name)!.mountPath;

  it('runs net-sync beside an agent container, one writer at a time', () => {
    expect(pod.containers.map((c) => c.name)).toEqual(['agent', 'net-sync']);
    expect(deployment.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(DRAIN_MS);
  });

  it('loads its ConfigMap config with loadConfig, paths on the mounted volumes', () => {
    const cm = byKind('ConfigMap').find((c) => c.metadata.name === 'net-sync-config')!;
    const configArg = sidecar.args[sidecar.args.indexOf('--config') + 1]!;
    expect(posix.dirname(configArg)).toBe(mountOf('config'));
    const file = join(mkdtempSync(join(tmpdir(), 'net-sync-k8s-')), posix.basename(configArg));
    writeFileSync(file, cm.data[posix.basename(configArg)]!);
    const secretEnv = byKind('Secret').find((s) => s.metadata.name === sidecar.envFrom[0]!.secretRef.name)!.stringData;
    const config = loadConfig({ file, env: secretEnv });
    expect(config.api.listen).toBe('127.0.0.1:7654');
    expect(posix.dirname(config.buffer.path)).toBe(mountOf('outbox'));
    expect(posix.dirname(config.mesh.keyFile)).toBe(mountOf('identity'));
    const identity = pod.volumes.find((v) => v.name === 'identity')!.secret!;
    expect(byKind('Secret').find((s) => s.metadata.name === identity.secretName)!.data).toHaveProperty(
      posix.basename(config.mesh.keyFile),
    );
    expect(pod.volumes.find((v) => v.name === 'outbox')!.persistentVolumeClaim!.claimName).toBe(
      byKind('PersistentVolumeClaim')[0]!.metadata.name,
    );
    expect(dirname(config.nats.tls.caFile!)).toBe(mountOf('nats-ca'));
  });

  it('probes /healthz (liveness, startup) and /readyz (readiness, with the token): real routes on the API port', () => {
    const probe = (p: K8sProbe): string => p.exec.command.join(' ');
    expect(probe(sidecar.livenessProbe)).toContain('http://127.0.0.1:7654/healthz');
    expect(probe(sidecar.startupProbe)).toContain('http://127.0.0.1:7654/healthz');
    expect(probe(sidecar.readinessProbe)).toContain('http://127.0.0.1:7654/readyz');
    expect(probe(sidecar.readinessProbe)).toContain('process.env.NET_SYNC_API_TOKEN');
    expect(API_GETS).toEqual(expect.arrayContaining(['/healthz', '/readyz']));
  });
});
