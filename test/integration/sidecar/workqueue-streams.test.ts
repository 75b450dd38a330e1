// Hardening: a WorkQueue (or Interest) stream on net-sync's subjects deletes what a worker
// consumed, so a row whose PubAck was lost can never be looked up. `start`, `streams apply` and
// `streams verify` refuse it with exit 2 naming the stream, unless the operator opts in to
// dedupe by the duplicate window alone (which must then be at least 10 min).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../../src/buffer/index.js';
import { buildCommandRow } from '../../../src/core/command-message.js';
import { useNatsServer, registerCleanup } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const streamsYaml = (retention: string, duplicateWindow: string): string =>
  'streams:\n' +
  `  - { name: COMMANDS, subjects: ["root.solar.command.>"], retention: ${retention},\n` +
  `      maxAge: 1h, maxBytes: 64MB, duplicateWindow: ${duplicateWindow} }\n` +
  '  - { name: DEADLETTER, subjects: ["root.solar.deadletter.>"], maxAge: 1h, maxBytes: 64MB }\n';

describe('WorkQueue streams on our subjects', () => {
  it('are refused by start, streams apply and streams verify (exit 2, naming the stream)', async () => {
    const nats = await useNatsServer();
    const dir = tempDir('workqueue');
    const config = join(dir, 'net-sync.yaml');
    writeFileSync(config, streamsYaml('workqueue', '2m'));
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: dir,
      NET_SYNC_NATS_SERVERS: nats.url,
      NET_SYNC_BUFFER_PATH: join(dir, 'net-sync.db'),
      NET_SYNC_MESH_KEY_FILE: join(dir, 'net-sync.key'),
      NET_SYNC_API_LISTEN: '127.0.0.1:0',
    };
    for (const args of [['streams', 'apply'], ['streams', 'verify'], ['start']]) {
      const r = await runCliProcess([...args, '--config', config], env, dir);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/COMMANDS \(workqueue\)/);
      expect(r.stderr, args.join(' ')).toMatch(/commit\.dedupeOnlyWithinDuplicateWindow/);
    }
    // Opted in, but with a window too short to be the only dedupe.
    const short = await runCliProcess(
      ['start', '--config', config],
      { ...env, NET_SYNC_COMMIT_DEDUPE_ONLY_WITHIN_DUPLICATE_WINDOW: 'true' },
      dir,
    );
    expect(short.code, short.stderr).toBe(2);
    expect(short.stderr).toMatch(/at least 10 min/);
  });

  it('run when opted in with a long window: commits, and reconcile does not stall', async () => {
    const nats = await useNatsServer();
    const sidecar = new SidecarProcess({ natsUrl: nats.url });
    const config = join(sidecar.dir, 'net-sync.yaml');
    writeFileSync(config, streamsYaml('workqueue', '15m'));
    Object.assign(sidecar, {
      opts: {
        natsUrl: nats.url,
        configFile: config,
        env: { NET_SYNC_COMMIT_DEDUPE_ONLY_WITHIN_DUPLICATE_WINDOW: 'true' },
      },
    });
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    await sidecar.start();
    const r = await sidecar.post('/v1/intents', { subject: 'root.solar.command.cohort.assign', payload: { a: 1 } });
    expect(r.status).toBe(202);
    await waitFor(
      async () => (await sidecar.get(`/v1/intents/${r.json.correlationId}`)).json.state === 'committed',
      `${r.json.correlationId} committed`,
    );
    await sidecar.stop();
    // A row whose outcome is unknown (sent, no PubAck): it cannot be looked up on such a stream,
    // so reconcile republishes it (the 15 min duplicate window dedupes) instead of stalling.
    const outbox = SqliteOutbox.open({ path: sidecar.bufferPath });
    const row = buildCommandRow({
      correlationId: '01UNKNOWN000000000000000000',
      subject: 'root.solar.command.cohort.assign',
      payload: { b: 2 },
      origin: 'test',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      createdAtMs: Date.now(),
      soleEndorser: true,
    });
    await outbox.append([row]);
    outbox.markInFlight([row.correlationId], Date.now());
    await outbox.close();
    const refused = await runCliProcess(
      ['reconcile', '--json', ...sidecar.configArgs()],
      { ...sidecar.env(), NET_SYNC_COMMIT_DEDUPE_ONLY_WITHIN_DUPLICATE_WINDOW: 'false' },
      sidecar.dir,
    );
    expect(refused.code, 'reconcile without the opt-in').toBe(2);
    expect(refused.stderr).toMatch(/COMMANDS has workqueue retention/);
    const rec = await runCliProcess(['reconcile', '--json', ...sidecar.configArgs()], sidecar.env(), sidecar.dir);
    expect(rec.code, rec.stderr).toBe(0);
  });
});
