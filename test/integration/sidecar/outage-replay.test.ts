// Acceptance, outage (docs/exactly-once.md): 10,000 intents arrive while NATS is down, then NATS starts.
// Each is in the stream exactly once, and every row is committed with its seq.
import { SqliteOutbox } from '../../../src/buffer/index.js';
import { describe, expect, it } from 'vitest';
import { HEADER } from '../../../src/core/command-message.js';
import { isTraceparent } from '../../../src/core/trace-context.js';
import { freePort, NatsServerProcess } from '../../../src/devkit/nats-server-process.js';
import { registerCleanup } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { postMany, readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const N = 10_000;

describe('outage and replay (real nats-server, real sidecar process)', () => {
  it(`buffers ${N} intents while NATS is down and commits each exactly once after it starts`, async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const sidecar = new SidecarProcess({ natsUrl: url });
    await sidecar.start();
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));

    expect((await sidecar.get('/readyz')).status).toBe(503);
    const bodies = Array.from({ length: N }, (_, i) => ({
      subject: 'root.solar.command.sentiment.set',
      payload: { i, pad: 'x'.repeat(200) },
    }));
    const answers = await postMany(sidecar.url, bodies);
    const ids = answers.map((a, i) => {
      if (!('status' in a) || a.status !== 202) throw new Error(`intent ${i} not accepted: ${JSON.stringify(a)}`);
      expect(a.json.state).toBe('pending-commit');
      return a.json.correlationId as string;
    });
    expect(new Set(ids).size).toBe(N);

    const nats = await NatsServerProcess.start({ port });
    registerCleanup(() => nats.dispose());
    await waitFor(
      async () => (await sidecar.get('/readyz')).status === 200,
      'readyz to turn 200 after NATS starts',
      15_000,
    );
    await waitFor(
      async () => (await sidecar.get('/v1/status')).json.outbox.command.committed === N,
      `${N} rows committed`,
      60_000,
      100,
    );

    const stream = await readStream(url);
    expect(stream.messages.length).toBe(N);
    expect(stream.idCounts.size).toBe(N);
    for (const id of ids) expect(stream.idCounts.get(id), `copies of ${id} in the stream`).toBe(1);
    // The header set of docs/contracts.md; consensus off, so the node is its own (sole, unsigned) endorser.
    const peerId = (await sidecar.get('/v1/status')).json.peerId as string;
    for (const m of stream.messages) {
      expect(m.headers[HEADER.correlationId], `headers of seq ${m.seq}`).toBe(m.msgId);
      expect(m.headers, `headers of seq ${m.seq}`).toMatchObject({
        [HEADER.schemaVersion]: '1',
        [HEADER.origin]: peerId,
        [HEADER.endorsers]: peerId,
      });
      expect(isTraceparent(m.headers[HEADER.traceparent]), `traceparent of seq ${m.seq}`).toBe(true);
    }

    await sidecar.kill('SIGTERM');
    const outbox = SqliteOutbox.open({ path: sidecar.bufferPath });
    const rows = outbox
      .listByState(['proposed', 'pending-commit', 'in-flight', 'committed', 'dead', 'expired', 'rejected'], 1_000_000)
      .filter((r) => r.kind === 'command')
      .map((r) => ({ state: r.state, seq: r.streamSeq }));
    await outbox.close();
    expect(rows.length).toBe(N);
    expect(rows.every((r) => r.state === 'committed' && r.seq !== null)).toBe(true);
    expect(new Set(rows.map((r) => r.seq)).size).toBe(N);
  });
});
