/**
 * Reads streams back: where did these `Nats-Msg-Id`s land, and what is on a subject since a time.
 * Used by reconcile, `net-sync verify` and the chaos oracle. Works on nats-server 2.9 (one
 * filter subject per consumer).
 */
import { AckPolicy, DeliverPolicy, type JsMsg, nanos, RetentionPolicy } from 'nats';
import { HEADER } from '../core/command-message.js';
import { NetSyncError } from '../core/errors.js';
import type { StreamLocation } from '../core/intent.js';
import { UNSAFE_RETENTION_OPT_IN } from '../core/retention-hazard.js';
import type { StreamReader } from '../core/ports.js';
import { headerRecord } from './message-headers.js';
import type { NatsConnector } from './nats-connector.js';
import { isSubjectSubset, subjectMatches } from './subject-filter.js';

/** One stored message, as `scanAll` yields it. */
export interface ScannedMessage {
  stream: string;
  seq: number;
  subject: string;
  /** `Nats-Msg-Id`, or undefined when the publisher set none. */
  msgId: string | undefined;
  /** All headers; a repeated header keeps its first value. */
  headers: Record<string, string>;
  data: Uint8Array;
  /** Time the stream stored it, ms since epoch. */
  timeMs: number;
}

/** Options of {@link JetStreamReader}. */
export interface JetStreamReaderOptions {
  connector: NatsConnector;
  /** Messages per pull request. Default 4,096: 10,000 messages in a few round trips. */
  batch?: number;
  /** A scan that receives nothing for this long while messages remain fails with NATS_TIMEOUT. Default 10 s. */
  stallTimeoutMs?: number;
  /**
   * A WorkQueue or Interest stream cannot be read back (it deletes what was consumed): `refuse`
   * (default) fails the scan with CONFIG_INVALID naming it; `skip` finds nothing there, so the
   * caller republishes and the duplicate window dedupes (`commit.dedupeOnlyWithinDuplicateWindow`).
   */
  unsafeRetention?: 'refuse' | 'skip';
}

/**
 * `StreamReader` over an ephemeral pull consumer per stream (AckNone, in memory, start by
 * time, auto-deleted by the server after 30 s idle and by us when done). A scan ends at the
 * stream's last sequence read at call time, or when nothing more matches.
 */
export class JetStreamReader implements StreamReader {
  private readonly connector: NatsConnector;
  private readonly batch: number;
  private readonly stallTimeoutMs: number;
  private readonly unsafeRetention: 'refuse' | 'skip';

  constructor(opts: JetStreamReaderOptions) {
    this.connector = opts.connector;
    this.unsafeRetention = opts.unsafeRetention ?? 'refuse';
    this.batch = opts.batch ?? 4_096;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 10_000;
  }

  /** See {@link StreamReader.findMsgIds}. Stops as soon as every id is found. */
  async findMsgIds(
    subject: string,
    sinceMs: number,
    msgIds: ReadonlySet<string>,
    signal?: AbortSignal,
  ): Promise<Map<string, StreamLocation>> {
    const found = new Map<string, StreamLocation>();
    if (msgIds.size === 0) return found;
    for await (const m of this.scan(subject, sinceMs, signal)) {
      const id = m.headers?.get(HEADER.msgId);
      if (id === undefined || !msgIds.has(id) || found.has(id)) continue;
      found.set(id, { stream: m.info.stream, seq: m.seq });
      if (found.size === msgIds.size) break;
    }
    return found;
  }

  /**
   * Every message on `subject` (wildcards allowed, across all streams that capture it) stored
   * at or after `sinceMs`, up to each stream's last sequence at the time it is reached.
   */
  async *scanAll(subject: string, sinceMs: number, signal?: AbortSignal): AsyncIterable<ScannedMessage> {
    for await (const m of this.scan(subject, sinceMs, signal)) {
      const headers = headerRecord(m.headers);
      yield {
        stream: m.info.stream,
        seq: m.seq,
        subject: m.subject,
        msgId: headers[HEADER.msgId],
        headers,
        data: m.data,
        timeMs: Math.floor(m.info.timestampNanos / 1e6),
      };
    }
  }

  private async *scan(subject: string, sinceMs: number, signal?: AbortSignal): AsyncGenerator<JsMsg> {
    if (signal?.aborted) throw new NetSyncError('ABORTED', 'scan aborted');
    const jsm = this.requireConnected().manager;
    let streams: string[];
    try {
      streams = await jsm.streams.names(subject).next();
    } catch (err) {
      throw translate(err, `listing streams for ${subject}`);
    }
    for (const stream of streams) yield* this.scanStream(stream, subject, sinceMs, signal);
  }

  private async *scanStream(
    stream: string,
    subject: string,
    sinceMs: number,
    signal?: AbortSignal,
  ): AsyncGenerator<JsMsg> {
    const { manager: jsm, jetstream: js } = this.requireConnected();
    let consumerName: string;
    let lastSeq: number;
    let filter: string | undefined;
    try {
      const info = await jsm.streams.info(stream);
      if (info.config.retention !== RetentionPolicy.Limits) {
        if (this.unsafeRetention === 'skip') return;
        throw new NetSyncError(
          'CONFIG_INVALID',
          `stream ${stream} has ${info.config.retention} retention: it cannot be read back to look a message up; ` +
            `use Limits retention, or set ${UNSAFE_RETENTION_OPT_IN}: true`,
          { field: UNSAFE_RETENTION_OPT_IN },
        );
      }
      lastSeq = info.state.last_seq;
      if (info.state.messages === 0) return;
      // 2.9 wants the filter inside the stream's subjects; a broader one scans all and filters here.
      filter = info.config.subjects.some((s) => isSubjectSubset(subject, s)) ? subject : undefined;
      const ci = await jsm.consumers.add(stream, {
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: new Date(Math.max(0, sinceMs)).toISOString(),
        ...(filter === undefined ? {} : { filter_subject: filter }),
        inactive_threshold: nanos(30_000),
        mem_storage: true,
        num_replicas: 1,
      });
      consumerName = ci.name;
      if (ci.num_pending === 0) {
        await jsm.consumers.delete(stream, consumerName).catch(() => undefined);
        return;
      }
    } catch (err) {
      throw translate(err, `opening a scan of ${stream}`);
    }
    let stalled = false;
    let msgs: Awaited<ReturnType<Awaited<ReturnType<typeof js.consumers.get>>['consume']>> | undefined;
    const timer = setTimeout(() => {
      stalled = true;
      msgs?.stop();
    }, this.stallTimeoutMs);
    const onAbort = (): void => msgs?.stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const consumer = await js.consumers.get(stream, consumerName);
      msgs = await consumer.consume({ max_messages: this.batch });
      for await (const m of msgs) {
        timer.refresh();
        if (m.seq > lastSeq) break;
        if (filter !== undefined || subjectMatches(m.subject, subject)) yield m;
        if (m.seq >= lastSeq || m.info.pending === 0) break;
      }
      if (signal?.aborted) throw new NetSyncError('ABORTED', `scan of ${stream} aborted`);
      if (stalled)
        throw new NetSyncError('NATS_TIMEOUT', `scan of ${stream} received nothing for ${this.stallTimeoutMs} ms`);
    } catch (err) {
      throw translate(err, `scanning ${stream}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      msgs?.stop();
      await jsm.consumers.delete(stream, consumerName).catch(() => undefined);
    }
  }

  private requireConnected(): {
    manager: NonNullable<NatsConnector['manager']>;
    jetstream: NonNullable<NatsConnector['jetstream']>;
  } {
    const { manager, jetstream } = this.connector;
    if (manager === undefined || jetstream === undefined || this.connector.state !== 'connected') {
      throw new NetSyncError('NATS_DISCONNECTED', 'not connected to NATS');
    }
    return { manager, jetstream };
  }
}

function translate(err: unknown, what: string): NetSyncError {
  if (err instanceof NetSyncError) return err;
  const code = (err as { code?: unknown }).code;
  const mapped = code === 'TIMEOUT' ? 'NATS_TIMEOUT' : code === '503' ? 'NATS_NO_RESPONDERS' : 'NATS_UNKNOWN';
  return new NetSyncError(mapped, `${what}: ${String((err as Error).message ?? err)}`, { cause: err });
}
