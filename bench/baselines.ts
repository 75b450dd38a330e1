/**
 * The raw baselines net-sync is compared against:
 * (a) nats.js `js.publish` with a msgID and 1,024 PubAcks in flight;
 * (a′) core publish with a reply subject and the PubAcks collected on one inbox subscription;
 * (b) better-sqlite3 inserts into a table shaped like the outbox (WAL, synchronous=FULL).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { connect, createInbox, headers, type NatsConnection } from 'nats';
import { MIGRATIONS } from '../src/buffer/migrations.js';
import {
  budgetMs,
  closedLoop,
  commandsStreamConfig,
  RAW_SUBJECT,
  rawPayload,
  sampleSince,
  WINDOW,
  withNats,
  within,
  type Sample,
  type Sizes,
} from './common.js';

/** A raw nats.js connection (no async traces) with the bench stream in place. */
export async function connectRaw(url: string): Promise<NatsConnection> {
  // noAsyncTraces: otherwise nats.js captures a stack trace per request (~40% of the rate).
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add(commandsStreamConfig());
  return nc;
}

async function streamCount(nc: NatsConnection): Promise<number> {
  const jsm = await nc.jetstreamManager();
  return (await jsm.streams.info(commandsStreamConfig().name)).state.messages;
}

/** (a) nats.js `js.publish` with msgID, a window of 1,024 awaits in flight. */
export function measureNatsJs(sizes: Sizes): Promise<Sample> {
  return withNats(async (server) => {
    const nc = await connectRaw(server.url);
    try {
      const js = nc.jetstream();
      const data = rawPayload();
      const publish = (i: number): Promise<unknown> => js.publish(RAW_SUBJECT, data, { msgID: `a-${i}` });
      await within('(a) warm-up', budgetMs(sizes.warmup), closedLoop(sizes.warmup, WINDOW, publish));
      const started = performance.now();
      await within('(a)', budgetMs(sizes.natsJs), closedLoop(sizes.natsJs, WINDOW, publish, sizes.warmup));
      const sample = sampleSince(sizes.natsJs, started);
      const stored = await streamCount(nc);
      if (stored !== sizes.warmup + sizes.natsJs) throw new Error(`(a): stream holds ${stored} messages`);
      return sample;
    } finally {
      await nc.close();
    }
  });
}

/**
 * (a′) Pipelined: core publishes with `reply` = one inbox and `Nats-Msg-Id`, PubAcks counted
 * on a single subscription; at most 1,024 unacknowledged. The server-bound limit.
 */
export function measurePipelined(sizes: Sizes): Promise<Sample> {
  return withNats(async (server) => {
    const nc = await connectRaw(server.url);
    try {
      const run = pipelinedRun(nc);
      await within('(a′) warm-up', budgetMs(sizes.warmup), run(sizes.warmup, 0));
      const started = performance.now();
      await within('(a′)', budgetMs(sizes.pipelined), run(sizes.pipelined, sizes.warmup));
      const sample = sampleSince(sizes.pipelined, started);
      const stored = await streamCount(nc);
      if (stored !== sizes.warmup + sizes.pipelined) throw new Error(`(a′): stream holds ${stored} messages`);
      return sample;
    } finally {
      await nc.close();
    }
  });
}

function pipelinedRun(nc: NatsConnection): (count: number, offset: number) => Promise<void> {
  const inbox = createInbox();
  const data = rawPayload();
  const decoder = new TextDecoder();
  let acked = 0;
  let sent = 0;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  nc.subscribe(inbox, {
    callback: (err, msg) => {
      if (err !== null) failure ??= err;
      else if (msg.data.length === 0 || decoder.decode(msg.data).includes('"error"'))
        failure ??= new Error(`PubAck error: ${decoder.decode(msg.data)}`);
      acked++;
      const w = wake;
      wake = null;
      w?.();
    },
  });
  return async (count, offset) => {
    const goal = sent + count;
    for (let i = 0; i < count; i++) {
      while (sent - acked >= WINDOW && failure === null) await new Promise<void>((r) => (wake = r));
      if (failure !== null) throw failure;
      const h = headers();
      h.set('Nats-Msg-Id', `a2-${offset + i}`);
      nc.publish(RAW_SUBJECT, data, { reply: inbox, headers: h });
      sent++;
    }
    while (acked < goal && failure === null) await new Promise<void>((r) => (wake = r));
    if (failure !== null) throw failure;
  };
}

/** (b) Raw better-sqlite3 inserts into the outbox's own schema: batched and one per transaction. */
export interface SqliteSamples {
  batched: Sample;
  perRow: Sample;
}

/** (b) in `dir`: batches of 1,000 rows per transaction, and one transaction per row. */
export function measureSqlite(sizes: Sizes, dir: string): SqliteSamples {
  const db = new Database(join(dir, 'raw.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(MIGRATIONS[0]!.sql);
    const insert = db.prepare(`INSERT INTO outbox
      (correlation_id, subject, body, headers, kind, state, created_at_ms, updated_at_ms)
      VALUES (?, ?, ?, ?, 'command', 'pending-commit', ?, ?)`);
    const body = Buffer.from(rawPayload());
    const hdrs = JSON.stringify({
      'Net-Sync-Correlation-Id': '01JBENCHBENCHBENCHBENCHBEN',
      'Net-Sync-Schema-Version': '1',
      traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
    });
    const now = Date.now();
    const batch = db.transaction((from: number, n: number) => {
      for (let i = from; i < from + n; i++) insert.run(`b-${i}`, RAW_SUBJECT, body, hdrs, now, now);
    });
    const inBatches = (from: number, total: number): void => {
      for (let done = 0; done < total; done += 1_000) batch.immediate(from + done, Math.min(1_000, total - done));
    };
    inBatches(0, sizes.warmup);
    let started = performance.now();
    inBatches(sizes.warmup, sizes.sqliteBatched);
    const batched = sampleSince(sizes.sqliteBatched, started);
    const from = sizes.warmup + sizes.sqliteBatched;
    started = performance.now();
    for (let i = 0; i < sizes.sqlitePerRow; i++) batch.immediate(from + i, 1);
    const perRow = sampleSince(sizes.sqlitePerRow, started);
    return { batched, perRow };
  } finally {
    db.close();
  }
}
