/**
 * Streams as code against a live server: plan (diff), apply (create/update, idempotent) and
 * verify (drift) for the `streams:` spec. Never deletes or recreates a stream.
 */
import type { JetStreamManager, StreamInfo } from 'nats';
import type { StreamRetentionView } from '../core/retention-hazard.js';
import { NetSyncError } from '../core/errors.js';
import { diffStream, type StreamDiff, type StreamSpec } from '../core/stream-spec.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { NatsConnector } from './nats-connector.js';
import { effectiveSpec, fromStreamConfig, IMMUTABLE_STREAM_FIELDS, toStreamConfig } from './stream-config.js';

/** Server err_code for "stream not found". */
const STREAM_NOT_FOUND = 10059;

/** What `apply` did for one stream. */
export interface StreamApplyResult {
  /** The planned change, as `plan` reports it. */
  diff: StreamDiff;
  /** `applied` (created or updated), `unchanged`, `planned` (dry run) or `failed`. */
  outcome: 'applied' | 'unchanged' | 'planned' | 'failed';
  /**
   * When failed: NATS_STREAM_CONFLICT naming the field (`storage`, `retention`, or the
   * server's reason such as overlapping subjects), or the NATS error that stopped it.
   */
  error?: NetSyncError;
}

/** Options of {@link StreamManager}. */
export interface StreamManagerOptions {
  connector: NatsConnector;
  logger?: Logger;
}

/** Plans, applies and verifies stream specs over the connector's JetStream manager. */
export class StreamManager {
  private readonly connector: NatsConnector;
  private readonly log: Logger;

  constructor(opts: StreamManagerOptions) {
    this.connector = opts.connector;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'stream-manager' });
  }

  /** The diff of each spec against the server, in spec order. Rejects if NATS is unreachable. */
  async plan(specs: readonly StreamSpec[]): Promise<StreamDiff[]> {
    const jsm = this.manager();
    return Promise.all(specs.map(async (spec) => diffStream(effectiveSpec(spec), await readSpec(jsm, spec.name))));
  }

  /**
   * Creates missing streams and updates drifted ones. A change to a field the server cannot
   * change in place (storage, retention) fails that stream with the field named; nothing is
   * deleted or recreated. Other streams are still applied. With `dryRun`, only plans.
   */
  async apply(specs: readonly StreamSpec[], opts: { dryRun?: boolean } = {}): Promise<StreamApplyResult[]> {
    const jsm = this.manager();
    const diffs = await this.plan(specs);
    const results: StreamApplyResult[] = [];
    for (const [i, spec] of specs.entries()) {
      const diff = diffs[i] as StreamDiff;
      results.push(await this.applyOne(jsm, spec, diff, opts.dryRun === true));
    }
    return results;
  }

  /**
   * The streams that capture some subject under `<prefix>.`, as the retention guard sees them
   * (core/retention-hazard.ts). Names come from `$JS.API.STREAM.NAMES` filtered by subject, so a
   * least-privilege user needs no `STREAM.LIST`; a stream whose info it may not read is skipped
   * and logged (its retention cannot be checked).
   */
  async liveRetention(prefix: string): Promise<StreamRetentionView[]> {
    const jsm = this.manager();
    const out: StreamRetentionView[] = [];
    for await (const name of jsm.streams.names(`${prefix}.>`)) {
      try {
        const info = await jsm.streams.info(name);
        out.push({
          name: info.config.name,
          retention: info.config.retention as StreamRetentionView['retention'],
          subjects: info.config.subjects ?? [],
          duplicateWindowMs: Math.round((info.config.duplicate_window ?? 0) / 1e6),
        });
      } catch (err) {
        this.log.warn({ stream: name, err: String(err) }, 'cannot read stream info: its retention is not checked');
      }
    }
    return out;
  }

  /** Streams whose server config differs from the spec (`create` = missing). Empty = no drift. */
  async verify(specs: readonly StreamSpec[]): Promise<StreamDiff[]> {
    return (await this.plan(specs)).filter((d) => d.action !== 'none');
  }

  private async applyOne(
    jsm: JetStreamManager,
    spec: StreamSpec,
    diff: StreamDiff,
    dryRun: boolean,
  ): Promise<StreamApplyResult> {
    if (diff.action === 'none') return { diff, outcome: 'unchanged' };
    if (diff.action === 'update') {
      const fixed = diff.drift.find((d) => IMMUTABLE_STREAM_FIELDS.includes(d.field));
      if (fixed !== undefined) {
        const error = new NetSyncError(
          'NATS_STREAM_CONFLICT',
          `stream ${spec.name}: ${fixed.field} cannot be changed in place (${String(fixed.have)} → ${String(fixed.want)}); recreate the stream by hand`,
          { field: fixed.field },
        );
        return { diff, outcome: 'failed', error };
      }
    }
    if (dryRun) return { diff, outcome: 'planned' };
    try {
      const config = toStreamConfig(spec);
      if (diff.action === 'create') await jsm.streams.add(config);
      else await jsm.streams.update(spec.name, config);
      this.log.info({ stream: spec.name, action: diff.action }, 'stream applied');
      return { diff, outcome: 'applied' };
    } catch (err) {
      return { diff, outcome: 'failed', error: translate(err, spec.name, diff.action) };
    }
  }

  private manager(): JetStreamManager {
    const jsm = this.connector.manager;
    if (jsm === undefined || this.connector.state !== 'connected')
      throw new NetSyncError('NATS_DISCONNECTED', 'not connected to NATS');
    return jsm;
  }
}

async function readSpec(jsm: JetStreamManager, name: string): Promise<StreamSpec | undefined> {
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(name);
  } catch (err) {
    if (apiErrCode(err) === STREAM_NOT_FOUND) return undefined;
    throw translate(err, name, 'read');
  }
  return fromStreamConfig(info.config);
}

function apiErrCode(err: unknown): number | undefined {
  return (err as { api_error?: { err_code?: number } }).api_error?.err_code;
}

function translate(err: unknown, stream: string, what: string): NetSyncError {
  if (err instanceof NetSyncError) return err;
  const e = err as { code?: string; message?: string; api_error?: { err_code?: number; description?: string } };
  if (e.api_error !== undefined) {
    return new NetSyncError(
      'NATS_STREAM_CONFLICT',
      `stream ${stream} (${what}): ${e.api_error.description} (err_code ${e.api_error.err_code})`,
      { cause: err },
    );
  }
  const code = e.code === 'TIMEOUT' ? 'NATS_TIMEOUT' : e.code === '503' ? 'NATS_NO_RESPONDERS' : 'NATS_UNKNOWN';
  return new NetSyncError(code, `stream ${stream} (${what}): ${e.message ?? String(err)}`, { cause: err });
}
