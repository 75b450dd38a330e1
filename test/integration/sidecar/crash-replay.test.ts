// Acceptance, crashes (docs/exactly-once.md): SIGKILL the sidecar at random points during replay and
// during SQLite writes, 20 times, with the stream's duplicate window at 1 s so that dedupe
// alone cannot save us. After restart and reconcile: lost = 0, duplicates = 0.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, NatsServerProcess } from '../../../src/devkit/nats-server-process.js';
import { registerCleanup } from '../../support/nats-fixture.js';
import { seededRandom, testSeed } from '../../support/seeded-random.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { postMany, readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const BACKLOG = 6_000;
const KILLS = 20;
// About 65 s on a quiet 2-core machine: 21 starts, then the drain (up to 90 s) and reconcile.
// Its own timeout, as chaos D's fast variant had: a loaded box must not cut a slow but clean run.
const TIMEOUT_MS = 300_000;

describe('crashes during replay (real processes, duplicate window 1 s)', () => {
  it(`loses nothing and duplicates nothing across ${KILLS} SIGKILLs`, { timeout: TIMEOUT_MS }, async () => {
    const random = seededRandom(testSeed('crash-replay'));
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const sidecar = new SidecarProcess({
      natsUrl: url,
      // A small window and batch make replay take long enough for kills to land inside it.
      env: { NET_SYNC_COMMIT_WINDOW: '16', NET_SYNC_COMMIT_BATCH_ROWS: '32', NET_SYNC_COMMIT_SCAN_SKEW_MS: '2000' },
    });
    const config = join(sidecar.dir, 'net-sync.yaml');
    writeFileSync(
      config,
      [
        'streams:',
        '  - name: COMMANDS',
        '    subjects: ["root.solar.command.>"]',
        '    maxAge: 1h',
        '    maxBytes: 256MB',
        '    duplicateWindow: 1s',
      ].join('\n'),
    );
    Object.assign(sidecar, { opts: { ...(sidecar as unknown as { opts: object }).opts, configFile: config } });
    await sidecar.start();
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));

    // Backlog while NATS is down.
    const attempted = new Set<number>();
    const acked = new Map<string, number>();
    let nonce = 0;
    const submit = async (n: number): Promise<void> => {
      const bodies = Array.from({ length: n }, () => {
        attempted.add(nonce);
        return { subject: 'root.solar.command.sentiment.set', payload: { nonce: nonce++ } };
      });
      const answers = await postMany(sidecar.url, bodies, 32);
      answers.forEach((a, i) => {
        if ('status' in a && a.status === 202)
          acked.set(a.json.correlationId, (bodies[i] as { payload: { nonce: number } }).payload.nonce);
      });
    };
    // The backlog goes in batches of 1,000 (one request and one transaction each): what is under
    // test is the replay, and the writes the kills land in are the single posts below.
    for (let start = 0; start < BACKLOG; start += 1_000) {
      const bodies = Array.from({ length: Math.min(1_000, BACKLOG - start) }, () => {
        attempted.add(nonce);
        return { subject: 'root.solar.command.sentiment.set', payload: { nonce: nonce++ } };
      });
      const res = await sidecar.post('/v1/intents', bodies);
      expect(res.status, JSON.stringify(res.json).slice(0, 500)).toBe(202);
      for (const item of res.json.items as Array<{ index: number; correlationId?: string }>)
        if (item.correlationId !== undefined) acked.set(item.correlationId, bodies[item.index]!.payload.nonce);
    }
    expect(acked.size).toBe(BACKLOG);
    await sidecar.kill('SIGKILL');
    const nats = await NatsServerProcess.start({ port });
    registerCleanup(() => nats.dispose());

    const unsettledAtKill: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await sidecar.start();
      // Keep SQLite writes going until the kill lands.
      let killed = false;
      const writes = (async () => {
        while (!killed) await submit(20);
      })();
      await new Promise((r) => setTimeout(r, Math.floor(random() * 300)));
      const counts = (await sidecar.get('/v1/status')).json.outbox.command;
      unsettledAtKill.push(counts['pending-commit'] + counts['in-flight']);
      killed = true;
      await sidecar.kill('SIGKILL');
      await writes;
      // Sometimes outlive the duplicate window before the restart.
      if (random() < 0.3) await new Promise((r) => setTimeout(r, 1_100));
    }

    await sidecar.start();
    await waitFor(
      async () => {
        const s = (await sidecar.get('/v1/status')).json.outbox.command;
        return s['pending-commit'] === 0 && s['in-flight'] === 0;
      },
      'outbox drained after the last restart',
      90_000,
      200,
    );
    await sidecar.kill('SIGTERM');
    // The kills landed during replay, and restarts resolved rows left in-flight from the stream.
    expect(
      unsettledAtKill.filter((c) => c > 0).length,
      `unsettled rows at each kill: ${unsettledAtKill}`,
    ).toBeGreaterThanOrEqual(KILLS / 2);
    console.log(`[crash-replay] sidecar dir ${sidecar.dir}`);
    const lookups = (sidecar.logTail(100_000).match(/resolved unknown outcomes from the stream/g) ?? []).length;
    expect(lookups, 'restarts that looked in-flight rows up in the stream').toBeGreaterThan(0);

    const env = { ...sidecar.env() };
    const rec = await runCliProcess(['reconcile', '--verify', '--json', '--config', config], env, sidecar.dir);
    expect(rec.code, rec.stderr).toBe(0);
    const report = JSON.parse(rec.stdout);
    expect(report).toMatchObject({ aligned: true, lost: [], unresolved: 0 });

    const stream = await readStream(url);
    const duplicates = [...stream.idCounts].filter(([, c]) => c > 1);
    const lost = [...acked.keys()].filter((id) => !stream.idCounts.has(id));
    const unexpected = stream.messages.filter(
      (m) => !attempted.has(JSON.parse(new TextDecoder().decode(m.data)).payload.nonce),
    );
    console.log(`[crash-replay] kills=${KILLS} unsettledAtKill=${unsettledAtKill.join(',')} lookups=${lookups}`);
    console.log(
      `[crash-replay] attempted=${attempted.size} acked=${acked.size} inStream=${stream.messages.length} ` +
        `lost=${lost.length} duplicated=${duplicates.length} unexpected=${unexpected.length}`,
    );
    expect(duplicates).toEqual([]);
    expect(lost).toEqual([]);
    expect(unexpected).toEqual([]);
  });
});
