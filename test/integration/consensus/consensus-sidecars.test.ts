// Acceptance, commit path and proposer death (docs/consensus.md): real sidecar processes on a loopback
// libp2p mesh and a real nats-server. Default: 3 sidecars, 150 intents. NET_SYNC_FULL=1: 5
// sidecars, 1,000 intents, quorum = majority.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HEADER } from '../../../src/core/command-message.js';
import { verifyCommit } from '../../../src/index.js';
import { meshIdentities } from '../../support/mesh-identities.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const FULL = process.env['NET_SYNC_FULL'] === '1';
const SIDECARS = FULL ? 5 : 3;
const INTENTS = FULL ? 1_000 : 150;
const QUORUM = FULL ? 'majority' : '2';
const TAKEOVER_MS = 3_000;
const SUBJECT = 'root.solar.command.sentiment.set';

interface Mesh {
  natsUrl: string;
  sidecars: SidecarProcess[];
  peerIds: string[];
}

/** Keys from `net-sync keygen`, loopback mesh ports, every sidecar listing the others. */
async function startMesh(n: number): Promise<Mesh> {
  const nats = await useNatsServer();
  const natsUrl = nats.url;
  const { dirs, peerIds, meshEnv } = await meshIdentities(n, 'consensus');
  const sidecars = dirs.map(
    (dir, i) =>
      new SidecarProcess({
        natsUrl,
        dir,
        env: {
          NET_SYNC_LOG_LEVEL: 'warn',
          ...meshEnv(i),
          NET_SYNC_CONSENSUS_QUORUM: QUORUM,
          NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
          NET_SYNC_CONSENSUS_TAKEOVER_MS: String(TAKEOVER_MS),
        },
      }),
  );
  for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
  await Promise.all(sidecars.map((s) => s.start()));
  await waitForMesh(sidecars, n - 1);
  return { natsUrl, sidecars, peerIds };
}

async function waitForMesh(sidecars: SidecarProcess[], peers: number): Promise<void> {
  for (const s of sidecars) {
    await waitFor(
      async () => {
        const mesh = (await s.get('/v1/status')).json.mesh;
        return mesh.peers >= peers && mesh.meshPeers >= peers;
      },
      `sidecar :${s.port} to see ${peers} mesh peers`,
      30_000,
      50,
    );
  }
}

/**
 * CPU seconds (user + system) a sidecar process has used, from /proc (Linux; 0 elsewhere). On a
 * shared machine this is the steadier figure: wall time depends on what else runs.
 */
function cpuSeconds(s: SidecarProcess): number {
  try {
    const fields = readFileSync(`/proc/${s.child?.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

async function post(s: SidecarProcess, payload: unknown): Promise<string> {
  const r = await s.post('/v1/intents', { subject: SUBJECT, payload });
  if (r.status !== 202) throw new Error(`not accepted by :${s.port}: ${JSON.stringify(r.json)}`);
  // The 202 reports the row's state when it answers: a fast quorum may already have moved it on.
  expect(['proposed', 'pending-commit', 'in-flight', 'committed']).toContain(r.json.state);
  return r.json.correlationId as string;
}

describe(`consensus over ${SIDECARS} real sidecars (quorum ${QUORUM})`, () => {
  it(`commits ${INTENTS} intents proposed round-robin exactly once, with verifiable endorsements`, async () => {
    const mesh = await startMesh(SIDECARS);
    const cpuAtStart = mesh.sidecars.reduce((sum, s) => sum + cpuSeconds(s), 0);
    const started = Date.now();
    const ids: string[] = new Array(INTENTS);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < INTENTS; i = next++)
        ids[i] = await post(mesh.sidecars[i % SIDECARS]!, { i, nonce: `n${i}` });
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const acceptedMs = Date.now() - started;
    await waitFor(
      async () => (await readStream(mesh.natsUrl)).messages.length >= INTENTS,
      `${INTENTS} messages in the stream`,
      60_000,
      250,
    );
    const committedMs = Date.now() - started;
    const cpu = mesh.sidecars.reduce((sum, s) => sum + cpuSeconds(s), 0) - cpuAtStart;
    // Every sidecar endorsed, stored, and marks its copy committed.
    for (const s of mesh.sidecars) {
      await waitFor(
        async () => (await s.get('/v1/status')).json.outbox.command.committed === INTENTS,
        `all ${INTENTS} copies committed on :${s.port}`,
        30_000,
        100,
      );
    }

    const stream = await readStream(mesh.natsUrl);
    expect(stream.messages.length).toBe(INTENTS);
    expect(stream.idCounts.size).toBe(INTENTS);
    for (const id of ids) expect(stream.idCounts.get(id), `copies of ${id}`).toBe(1);
    let endorsers = 0;
    for (const m of stream.messages) {
      expect(m.headers[HEADER.correlationId], `headers of seq ${m.seq}`).toBe(m.msgId);
      const v = await verifyCommit(
        { body: m.data, headers: m.headers },
        { quorum: QUORUM === 'majority' ? 'majority' : Number(QUORUM), cohort: mesh.peerIds },
      );
      expect(v.problems, `verification of ${m.msgId}`).toEqual([]);
      endorsers += v.validEndorsers.length;
    }
    // Every sidecar answers for the intent; each shows the endorsements its own copy holds (a
    // member that learned the commit before it endorsed may hold fewer), the committer's a quorum.
    let most = 0;
    for (const s of mesh.sidecars) {
      const view = (await s.get(`/v1/intents/${ids[0]}`)).json;
      expect(view).toMatchObject({ correlationId: ids[0], state: 'committed' });
      most = Math.max(most, view.endorsements.length);
    }
    expect(most).toBeGreaterThanOrEqual(2);

    const cli = await runCliProcess(['verify', '--json'], { ...mesh.sidecars[0]!.env() }, mesh.sidecars[0]!.dir);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, messages: INTENTS, verified: INTENTS, duplicates: 0 });
    console.log(
      `[consensus] sidecars=${SIDECARS} quorum=${QUORUM} intents=${INTENTS} inStream=${stream.messages.length} distinctIds=${stream.idCounts.size} ` +
        `meanEndorsers=${(endorsers / INTENTS).toFixed(2)} accepted=${acceptedMs}ms allCommitted=${committedMs}ms ` +
        `accepted/s=${(INTENTS / (acceptedMs / 1000)).toFixed(1)} committed/s=${(INTENTS / (committedMs / 1000)).toFixed(1)} sidecarCpu=${cpu.toFixed(1)}s`,
    );
  });

  it('proposer SIGKILLed right after its 202: another endorser commits once; the proposer rejoins and learns it', async () => {
    const mesh = await startMesh(SIDECARS);
    const [proposer, ...others] = mesh.sidecars as [SidecarProcess, ...SidecarProcess[]];
    await post(proposer, { warmup: true });
    await waitFor(async () => (await readStream(mesh.natsUrl)).messages.length === 1, 'warm-up commit', 20_000, 100);

    const id = await post(proposer, { doomed: true });
    await proposer.kill('SIGKILL');
    const killedAt = Date.now();
    // The 202 waits for the disk and for the proposal to leave the proposer: a peer heard it,
    // and another endorser commits within the takeover bound.
    let heardBy = 0;
    await waitFor(
      async () => {
        heardBy = (
          await Promise.all(others.map(async (s) => (await s.get(`/v1/intents/${id}`)).status === 200))
        ).filter(Boolean).length;
        return heardBy > 0;
      },
      `${id} on a peer after the proposer died`,
      5_000,
      20,
    );
    await waitFor(
      async () => (await readStream(mesh.natsUrl)).idCounts.has(id),
      `${id} in the stream after the proposer died`,
      TAKEOVER_MS * SIDECARS + 5_000,
      50,
    );
    const commitAfterKillMs = Date.now() - killedAt;
    for (const s of others) {
      await waitFor(
        async () => (await s.get(`/v1/intents/${id}`)).json.state === 'committed',
        `${id} committed on :${s.port}`,
        10_000,
        50,
      );
    }

    // Restart with the same key and outbox: the mesh re-forms, the proposer re-proposes its
    // pending row and learns the commit instead of publishing it again.
    const restartAt = Date.now();
    await proposer.start();
    await waitForMesh([proposer], SIDECARS - 1);
    const meshBackMs = Date.now() - restartAt;
    await waitFor(
      async () => (await proposer.get(`/v1/intents/${id}`)).json.state === 'committed',
      `${id} committed on the restarted proposer`,
      20_000,
      50,
    );
    const learnedMs = Date.now() - restartAt;
    for (const s of others) {
      await waitFor(
        async () => (await s.get(`/v1/intents/${id}`)).json.state === 'committed',
        `${id} committed on :${s.port}`,
        10_000,
        50,
      );
    }
    // New gossip reaches the rejoined node: a proposal made elsewhere is stored there.
    const fresh = await post(others[0]!, { afterRejoin: true });
    const proposedAt = Date.now();
    await waitFor(
      async () => (await proposer.get(`/v1/intents/${fresh}`)).status === 200,
      `${fresh} gossiped to the rejoined proposer`,
      10_000,
      10,
    );
    const gossipAfterRejoinMs = Date.now() - proposedAt;

    const stream = await readStream(mesh.natsUrl);
    await waitFor(async () => (await readStream(mesh.natsUrl)).idCounts.has(fresh), `${fresh} committed`, 20_000, 100);
    expect(stream.idCounts.get(id), `copies of ${id}`).toBe(1);
    const final = await readStream(mesh.natsUrl);
    expect(final.messages.length).toBe(3);
    expect(final.idCounts.size).toBe(3);
    const afterKill = `${heardBy} peer(s) had heard it; committed ${commitAfterKillMs}ms after the kill (takeover bound ${TAKEOVER_MS}ms/rank)`;
    console.log(
      `[consensus] proposer killed: ${afterKill}; ` +
        `restart → ${SIDECARS - 1} mesh peers ${meshBackMs}ms; learned the commit ${learnedMs}ms; new gossip reached it ${gossipAfterRejoinMs}ms after a proposal`,
    );
  });
});
