/**
 * Consumers as code against a live server: plan (diff), apply (create/update, idempotent) and
 * verify (drift) for the `consumers` of each stream spec, with the same rules as streams: a field
 * the server cannot change in place is refused with its name, and nothing is ever deleted or
 * recreated. Run after the streams are applied.
 */
import type { ConsumerInfo, JetStreamManager } from 'nats';
import {
  type ConsumerDiff,
  type ConsumerSpec,
  diffConsumer,
  IMMUTABLE_CONSUMER_FIELDS,
} from '../core/consumer-spec.js';
import { NetSyncError } from '../core/errors.js';
import type { StreamSpec } from '../core/stream-spec.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { fromConsumerConfig, toConsumerConfig, updatedConsumerConfig } from './consumer-config.js';
import type { NatsConnector } from './nats-connector.js';

/** Server err_codes for "consumer not found" and "stream not found". */
const CONSUMER_NOT_FOUND = 10014;
const STREAM_NOT_FOUND = 10059;

/** What `apply` did for one consumer. */
export interface ConsumerApplyResult {
  /** The planned change, as `plan` reports it. */
  diff: ConsumerDiff;
  /** `applied` (created or updated), `unchanged`, `planned` (dry run) or `failed`. */
  outcome: 'applied' | 'unchanged' | 'planned' | 'failed';
  /**
   * When failed: NATS_STREAM_CONFLICT naming the field (`mode`, `deliverPolicy`, `ackPolicy`), or
   * carrying the server's reason (a filter outside the stream, a second WorkQueue consumer on
   * the same subjects, a missing stream), or the NATS error that stopped it.
   */
  error?: NetSyncError;
}

/** Options of {@link ConsumerManager}. */
export interface ConsumerManagerOptions {
  connector: NatsConnector;
  logger?: Logger;
}

/** Plans, applies and verifies the consumers declared on stream specs. */
export class ConsumerManager {
  private readonly connector: NatsConnector;
  private readonly log: Logger;

  constructor(opts: ConsumerManagerOptions) {
    this.connector = opts.connector;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'consumer-manager' });
  }

  /** The diff of every declared consumer, in spec order. Rejects if NATS is unreachable. */
  async plan(specs: readonly StreamSpec[]): Promise<ConsumerDiff[]> {
    const jsm = this.manager();
    return Promise.all(
      declared(specs).map(async ([stream, c]) => diffConsumer(stream, c, await readConsumer(jsm, stream, c.name))),
    );
  }

  /**
   * Creates missing consumers and updates drifted ones. A change the server refuses in place
   * (mode, deliver policy, ack policy) fails that consumer with the field named; others still
   * apply. With `dryRun`, only plans.
   */
  async apply(specs: readonly StreamSpec[], opts: { dryRun?: boolean } = {}): Promise<ConsumerApplyResult[]> {
    const jsm = this.manager();
    const results: ConsumerApplyResult[] = [];
    for (const [stream, spec] of declared(specs)) {
      let diff: ConsumerDiff;
      try {
        diff = diffConsumer(stream, spec, await readConsumer(jsm, stream, spec.name));
      } catch (err) {
        const error = translate(err, stream, spec.name, 'read');
        results.push({ diff: { stream, consumer: spec.name, action: 'create' }, outcome: 'failed', error });
        continue;
      }
      results.push(await this.applyOne(jsm, stream, spec, diff, opts.dryRun === true));
    }
    return results;
  }

  /** Consumers whose server config differs from the spec (`create` = missing). Empty = no drift. */
  async verify(specs: readonly StreamSpec[]): Promise<ConsumerDiff[]> {
    return (await this.plan(specs)).filter((d) => d.action !== 'none');
  }

  private async applyOne(
    jsm: JetStreamManager,
    stream: string,
    spec: ConsumerSpec,
    diff: ConsumerDiff,
    dryRun: boolean,
  ): Promise<ConsumerApplyResult> {
    if (diff.action === 'none') return { diff, outcome: 'unchanged' };
    if (diff.action === 'update') {
      const fixed = diff.drift.find((d) => IMMUTABLE_CONSUMER_FIELDS.includes(d.field));
      if (fixed !== undefined) {
        const error = new NetSyncError(
          'NATS_STREAM_CONFLICT',
          `consumer ${stream}/${spec.name}: ${fixed.field} cannot be changed in place (${String(fixed.have)} → ${String(fixed.want)}); recreate the consumer by hand`,
          { field: fixed.field },
        );
        return { diff, outcome: 'failed', error };
      }
    }
    if (dryRun) return { diff, outcome: 'planned' };
    try {
      if (diff.action === 'create') await jsm.consumers.add(stream, toConsumerConfig(spec));
      else {
        const info = await jsm.consumers.info(stream, spec.name);
        // nats.js's update merges into the server's config, which cannot drop a field: send it whole.
        await jsm.consumers.add(stream, updatedConsumerConfig(info.config, spec));
      }
      this.log.info({ stream, consumer: spec.name, action: diff.action }, 'consumer applied');
      return { diff, outcome: 'applied' };
    } catch (err) {
      return { diff, outcome: 'failed', error: translate(err, stream, spec.name, diff.action) };
    }
  }

  private manager(): JetStreamManager {
    const jsm = this.connector.manager;
    if (jsm === undefined || this.connector.state !== 'connected')
      throw new NetSyncError('NATS_DISCONNECTED', 'not connected to NATS');
    return jsm;
  }
}

/** Every declared consumer with its stream's name, in spec order. */
function declared(specs: readonly StreamSpec[]): Array<[string, ConsumerSpec]> {
  return specs.flatMap((s) => (s.consumers ?? []).map((c): [string, ConsumerSpec] => [s.name, c]));
}

// A missing consumer, or a missing stream (it will be created by `streams apply` first; a dry run
// plans the consumer as a creation), reads as absent.
async function readConsumer(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerSpec | undefined> {
  let info: ConsumerInfo;
  try {
    info = await jsm.consumers.info(stream, name);
  } catch (err) {
    const code = (err as { api_error?: { err_code?: number } }).api_error?.err_code;
    if (code === CONSUMER_NOT_FOUND || code === STREAM_NOT_FOUND) return undefined;
    throw err;
  }
  return fromConsumerConfig(info.config);
}

function translate(err: unknown, stream: string, consumer: string, what: string): NetSyncError {
  if (err instanceof NetSyncError) return err;
  const e = err as { code?: string; message?: string; api_error?: { err_code?: number; description?: string } };
  if (e.api_error !== undefined) {
    return new NetSyncError(
      'NATS_STREAM_CONFLICT',
      `consumer ${stream}/${consumer} (${what}): ${e.api_error.description} (err_code ${e.api_error.err_code})`,
      { cause: err },
    );
  }
  const code = e.code === 'TIMEOUT' ? 'NATS_TIMEOUT' : e.code === '503' ? 'NATS_NO_RESPONDERS' : 'NATS_UNKNOWN';
  return new NetSyncError(code, `consumer ${stream}/${consumer} (${what}): ${e.message ?? String(err)}`, {
    cause: err,
  });
}
