// Reconcile against a real nats-server and a real SQLite outbox: rows whose outcome is unknown
// are found in the stream and marked committed without republishing (the duplicate window is
// 1 s and long past, so dedupe cannot help), missing rows are published, --verify reports
// acknowledged-but-lost rows, dry runs change nothing, and a lease holder is never raced.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders } from 'nats';
import { describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../../src/buffer/index.js';
import { ConfigSchema } from '../../../src/config/schema.js';
import { buildCommandRow } from '../../../src/core/command-message.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { reconcileOutbox } from '../../../src/service/reconcile-outbox.js';
import { SystemClock } from '../../../src/runtime/system-clock.js';
import { openAdminSession } from '../../../src/service/admin-session.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';

const clock = new SystemClock();

async function setup() {
  const nats = await useNatsServer();
  const config = ConfigSchema.parse({
    nats: { servers: [nats.url] },
    streams: [
      { name: 'COMMANDS', subjects: ['root.solar.command.>'], maxAge: '1h', maxBytes: '64MB', duplicateWindow: '1s' },
    ],
  });
  const session = await openAdminSession(config, silentLogger());
  registerCleanup(() => session.close());
  await session.streams.apply(config.streams);
  const outbox = SqliteOutbox.open({ path: join(mkdtempSync(join(tmpdir(), 'net-sync-rec-')), 'o.db') });
  registerCleanup(() => outbox.close());
  const rows = Array.from({ length: 6 }, (_, i) =>
    buildCommandRow({
      correlationId: `01REC${String(i).padStart(21, '0')}`,
      subject: 'root.solar.command.sentiment.set',
      payload: { i },
      origin: 'peer',
      traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
      createdAtMs: clock.now(),
    }),
  );
  await outbox.append(rows);
  const run = (over: Partial<Parameters<typeof reconcileOutbox>[0]> = {}) =>
    reconcileOutbox({
      outbox,
      publisher: session.publisher,
      reader: session.reader,
      clock,
      logger: silentLogger(),
      leaseOwner: 'reconcile:test',
      scanSkewMs: 2_000,
      window: 64,
      batchRows: 64,
      dryRun: false,
      verify: false,
      firstSeq: session.firstSeq,
      ...over,
    });
  const streamCount = async () => (await session.connector.manager!.streams.info('COMMANDS')).state.messages;
  return { nats, session, outbox, rows, run, streamCount };
}

describe('reconcile', () => {
  it('marks rows found in the stream committed without republishing and publishes the rest', async () => {
    const { session, outbox, rows, run, streamCount } = await setup();
    // A previous process published rows 0-2 and died before recording the PubAcks.
    outbox.markInFlight(
      rows.map((r) => r.correlationId),
      clock.now(),
    );
    const js = session.connector.jetstream!;
    for (const r of rows.slice(0, 3)) {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(r.headers)) h.set(k, v);
      await js.publish(r.subject, r.body, { msgID: r.correlationId, headers: h });
    }
    await new Promise((r) => setTimeout(r, 1_200)); // past the 1 s duplicate window

    const dry = await run({ dryRun: true });
    expect(dry).toMatchObject({ foundInStream: 3, published: 3, aligned: false });
    expect(outbox.counts()['in-flight']).toBe(6);

    const report = await run();
    expect(report).toMatchObject({ foundInStream: 3, published: 3, unresolved: 0, aligned: true });
    expect(await streamCount()).toBe(6);
    expect(outbox.counts().committed).toBe(6);

    const again = await run({ verify: true });
    expect(again).toMatchObject({ foundInStream: 0, published: 0, verified: 6, lost: [], aligned: true });
  });

  it('reports acknowledged-but-lost rows with --verify', async () => {
    const { session, outbox, rows, run } = await setup();
    await run();
    const victim = outbox.get(rows[2]!.correlationId)!;
    await session.connector.manager!.streams.deleteMessage('COMMANDS', victim.streamSeq!);
    const report = await run({ verify: true });
    expect(report.aligned).toBe(false);
    expect(report.lost).toEqual([
      {
        correlationId: victim.correlationId,
        subject: victim.subject,
        stream: 'COMMANDS',
        seq: victim.streamSeq,
        kind: 'absent',
      },
    ]);
    expect(report.verified).toBe(5);
  });

  it('never publishes while a running sidecar holds the publisher lease', async () => {
    const { outbox, run, streamCount } = await setup();
    expect(outbox.tryLease('sidecar:other', 60_000, clock.now())).toBe(true);
    const report = await run();
    expect(report).toMatchObject({ deferredTo: 'sidecar:other', published: 0, aligned: false, unresolved: 6 });
    expect(await streamCount()).toBe(0);
  });
});
