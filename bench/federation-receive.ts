/**
 * (g) Federation receive (issue 20): N event envelopes, each signed by two of org's keys, are
 * stored in FEDERATION on acme's events subject; then an in-process acme sidecar (consensus
 * off, partner org with threshold 2) reads them with its durable consumer, verifies both
 * signatures, records each event, signs and commits its `accepted` receipt and pushes it to a
 * node:http agent answering 204, in a process of its own (bench/push-agent-child.ts), as a real
 * agent runs. Timed from the first push to the moment every event is pushed and every receipt
 * committed. The raw baseline (gr), in the same run: the same N envelopes decoded and their 2·N
 * signatures verified with node:crypto in-process, nothing else. Each sample records the
 * sidecar process's CPU per event and the agent's apart. With `BENCH_FEDERATION_PROFILE` set (and
 * node run with `--cpu-prof`), the measured window is printed for
 * `bench/cpu-profile-summary.ts --from/--to`.
 */
import { fork } from 'node:child_process';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, headers as natsHeaders } from 'nats';
import { ConfigSchema } from '../src/config/schema.js';
import { encodeEnvelope } from '../src/core/dsse.js';
import { eventPayloadBytes, FEDERATION_EVENT_TYPE } from '../src/core/federation-message.js';
import { signEnvelope } from '../src/core/federation-trust.js';
import { defaultStreams } from '../src/core/stream-spec.js';
import { generateIdentity, identityPeerId, writeIdentity } from '../src/mesh/identity.js';
import { toStreamConfig } from '../src/nats/stream-config.js';
import { silentLogger } from '../src/observability/logger.js';
import { Ed25519Signer } from '../src/runtime/ed25519-keys.js';
import { Sidecar } from '../src/service/sidecar.js';
import { jsonPayload, PREFIX, type Sample, type Sizes, waitUntil, withNats, withTempDir } from './common.js';
import type { PushAgentMessage, PushAgentReport } from './push-agent-child.js';
import { benchConfig } from './sidecar-harness.js';

const EVENTS = `${PREFIX}.federation.outbound.events.acme`;

/** N envelopes from org to acme, each signed by both keys, with their message IDs. */
async function envelopes(n: number, signers: Ed25519Signer[]): Promise<Array<{ id: string; data: Uint8Array }>> {
  const payload = jsonPayload();
  const out: Array<{ id: string; data: Uint8Array }> = [];
  for (let i = 0; i < n; i++) {
    const eventId = `01JBENCHFEDERATION${String(i).padStart(8, '0')}`;
    const body = eventPayloadBytes({
      schemaVersion: 1,
      eventId,
      from: 'org',
      to: 'acme',
      type: 'bench.event',
      payload,
      createdAt: new Date().toISOString(),
      origin: signers[0]!.keyid,
    });
    out.push({ id: eventId, data: encodeEnvelope(await signEnvelope(FEDERATION_EVENT_TYPE, body, signers)) });
  }
  return out;
}

async function orgSigners(dir: string): Promise<Ed25519Signer[]> {
  const out: Ed25519Signer[] = [];
  for (let i = 0; i < 2; i++) {
    const key = await generateIdentity();
    await writeIdentity(join(dir, `org-${i}.key`), key);
    out.push(new Ed25519Signer(identityPeerId(key), key.raw));
  }
  return out;
}

/** The public key inside an Ed25519 peer ID (base58btc identity multihash), read with node:crypto alone. */
function keyOf(peerId: string): KeyObject {
  const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let n = 0n;
  for (const c of peerId) n = n * 58n + BigInt(B58.indexOf(c));
  const bytes = Buffer.from(n.toString(16).padStart(76, '0'), 'hex');
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: bytes.subarray(6).toString('base64url') },
    format: 'jwk',
  });
}

/** (gr) The raw baseline: decode each envelope and verify its two signatures over PAE with node:crypto. */
function rawVerify(list: ReadonlyArray<{ data: Uint8Array }>, keys: Map<string, KeyObject>): Sample {
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let ok = 0;
  for (const { data } of list) {
    const env = JSON.parse(Buffer.from(data).toString('utf8')) as {
      payloadType: string;
      payload: string;
      signatures: Array<{ keyid: string; sig: string }>;
    };
    const body = Buffer.from(env.payload, 'base64');
    const type = Buffer.from(env.payloadType);
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
    let held = 0;
    for (const s of env.signatures) if (verify(null, pae, keys.get(s.keyid)!, Buffer.from(s.sig, 'base64'))) held++;
    if (held >= 2) ok++;
  }
  const seconds = (performance.now() - started) / 1_000;
  if (ok !== list.length) throw new Error(`(gr): ${list.length - ok} envelopes did not verify`);
  const cpu = process.cpuUsage(cpu0);
  const cpuMsPerEvent = Number(((cpu.user + cpu.system) / 1_000 / list.length).toFixed(3));
  return { rate: list.length / seconds, count: list.length, seconds, extra: { cpuMsPerEvent } };
}

/** The stand-in agent's process: its push URL, when the first and the `expect`-th push came, its report. */
interface PushAgent {
  url: string;
  /** `performance.now()` here when the agent told of its first push, or 0. */
  firstAt(): number;
  /** This process's CPU usage when the agent told of its first push. */
  firstCpu(): NodeJS.CpuUsage;
  /** `performance.now()` here when the agent told of its `expect`-th push, or 0. */
  reachedAt(): number;
  report(): Promise<PushAgentReport>;
  stop(): Promise<void>;
}

async function startPushAgent(expect: number): Promise<PushAgent> {
  const child = fork(fileURLToPath(new URL('./push-agent-child.js', import.meta.url)), ['--expect', String(expect)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let first = 0;
  let firstCpu = process.cpuUsage();
  let reached = 0;
  let reports: Array<(r: PushAgentReport) => void> = [];
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`push agent exited with ${code} before listening`)));
    child.on('message', (m: PushAgentMessage) => {
      if ('port' in m) resolve(m.port);
      else if ('first' in m) {
        first = performance.now();
        firstCpu = process.cpuUsage();
      } else if ('reached' in m) reached = performance.now();
      else for (const r of reports.splice(0)) r(m);
    });
  });
  return {
    url: `http://127.0.0.1:${port}/federation`,
    firstAt: () => first,
    firstCpu: () => firstCpu,
    reachedAt: () => reached,
    report: () => new Promise<PushAgentReport>((r) => reports.push(r) === 1 && child.send('report')),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.send('stop');
      reports = [];
      await exited;
    },
  };
}

/** (g) and (gr) in one run on one fresh server: net-sync's receive rate, and the raw verification rate. */
export function measureFederationReceive(sizes: Sizes, maxAckPending: number): Promise<{ g: Sample; gr: Sample }> {
  const n = sizes.federationReceive;
  return withNats((server) =>
    withTempDir(async (dir) => {
      const signers = await orgSigners(dir);
      const list = await envelopes(n, signers);
      const gr = rawVerify(list, new Map(signers.map((s) => [s.keyid, keyOf(s.keyid)])));

      // Stored first, as a partner's source would have left them.
      const nc = await connect({ servers: server.url });
      try {
        const spec = defaultStreams(PREFIX).find((s) => s.name === 'FEDERATION')!;
        await (await nc.jetstreamManager()).streams.add(toStreamConfig(spec));
        const js = nc.jetstream();
        const pending: Promise<unknown>[] = [];
        for (const e of list) {
          const h = natsHeaders();
          h.set('Nats-Msg-Id', e.id);
          pending.push(js.publish(EVENTS, e.data, { headers: h }));
          if (pending.length >= 1_024) await Promise.all(pending.splice(0));
        }
        await Promise.all(pending);
      } finally {
        await nc.close();
      }

      const agent = await startPushAgent(n);
      try {
        const acmeKey = await generateIdentity();
        await writeIdentity(join(dir, 'bench.key'), acmeKey);
        const config = ConfigSchema.parse({
          ...benchConfig(dir, server.url),
          streams: undefined,
          inbox: { maxAckPending },
          federation: {
            name: 'acme',
            signers: [identityPeerId(acmeKey)],
            pushUrl: agent.url,
            partners: [{ name: 'org', receive: true, keys: signers.map((s) => s.keyid), threshold: 2 }],
          },
        });
        const sidecar = await Sidecar.create(config, silentLogger());
        try {
          await sidecar.start();
          const budget = 120_000 + n * 100;
          await waitUntil(`${n} pushes`, () => agent.reachedAt() > 0, budget, 2);
          await waitUntil(`${n} receipts committed`, () => sidecar.outbox.counts('command').committed >= n, budget, 20);
          const end = performance.now();
          const seconds = (end - agent.firstAt()) / 1_000;
          // The sidecar's process (every thread: the sidecar and its workers) and the agent's, per event.
          const cpu = process.cpuUsage(agent.firstCpu());
          const cpuMsPerEvent = Number(((cpu.user + cpu.system) / 1_000 / n).toFixed(3));
          const report = await agent.report();
          const agentCpuMsPerEvent = Number((report.cpuMs / n).toFixed(3));
          if (process.env['BENCH_FEDERATION_PROFILE'] !== undefined)
            console.error(
              `[profile] (g) maxAckPending ${maxAckPending}: --from ${(agent.firstAt() / 1_000).toFixed(1)} --to ${(end / 1_000).toFixed(1)}`,
            );
          if (report.pushes !== n) throw new Error(`(g): ${report.pushes} pushes for ${n} events`);
          return {
            g: {
              rate: (n - 1) / seconds,
              count: n,
              seconds,
              extra: { maxAckPending, cpuMsPerEvent, agentCpuMsPerEvent },
            },
            gr,
          };
        } finally {
          await sidecar.stop();
        }
      } finally {
        await agent.stop();
      }
    }),
  );
}
