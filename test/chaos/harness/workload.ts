/**
 * The workload: `proposers` agents, each submitting intents one after another to a sidecar's
 * HTTP API at a bounded total rate, for a bounded time and count. Every attempt is recorded
 * with its outcome: acked (202 + correlation ID), rejected (4xx), refused (connection refused:
 * never reached the sidecar) or unknown (timeout, reset, 5xx: it may or may not be durable).
 * Keyed intents (`submitKeyed`) are sent with an `Idempotency-Key` to several sidecars, one
 * attempt each, all with the same key and payload: the same intent, which must be stored once.
 */
import type { Prng } from './prng.js';

/** What happened to one submission. */
export type AttemptOutcome = 'pending' | 'acked' | 'rejected' | 'refused' | 'unknown';

/**
 * One submission. `key` names the intent: unique per run, it travels in the payload. The attempts
 * of one keyed intent share it (and their `idempotencyKey`); any other attempt has a key of its own.
 */
export interface Attempt {
  key: string;
  /** The `Idempotency-Key` header sent, or null. */
  idempotencyKey: string | null;
  proposer: string;
  /** Position in the proposer's sequence (0-based); a proposer's attempts never overlap. */
  n: number;
  subject: string;
  /** The sidecar it was sent to. */
  target: string;
  sentAtMs: number;
  doneAtMs: number | null;
  outcome: AttemptOutcome;
  correlationId: string | null;
  httpStatus: number | null;
  error: string | null;
}

/** The payload of every workload intent; the oracle finds attempts in the stream by `key`. */
export interface WorkloadPayload {
  chaos: { run: string; key: string; proposer: string; n: number };
  pad: string;
}

/** Options of {@link Workload}. */
export interface WorkloadOptions {
  /** Unique per scenario run; part of every key. */
  runId: string;
  /** API base URL for proposer `i` (a function, so a scenario can spread proposers over sidecars). */
  target: (proposer: number) => string;
  /** Number of sequential proposers (agents). */
  proposers: number;
  /** Total submissions per second across proposers (upper bound). */
  ratePerSec: number;
  /** Stop issuing after this long. */
  durationMs: number;
  /** Stop issuing after this many attempts. */
  maxAttempts: number;
  /** Per-request timeout; a timeout is an unknown outcome. Default 3 s. */
  timeoutMs?: number;
  /** Extra payload bytes per intent. Default 64. */
  padBytes?: number;
  rng: Prng;
  /** Subject prefix. Default `root.solar.command`. */
  subjectPrefix?: string;
  /** Extra payload fields for the attempt with `key` (e.g. how a test agent should answer it). */
  extraPayload?: (key: string) => Record<string, unknown>;
}

/** Runs the proposers; `stop()` ends issuing and waits for the requests in flight. */
export class Workload {
  readonly attempts: Attempt[] = [];
  private readonly opts: WorkloadOptions;
  private stopping = false;
  /** Attempts issued by the proposers (keyed ones not counted): bounded by `maxAttempts`. */
  private issued = 0;
  private wakers = new Set<() => void>();
  private run: Promise<void> | null = null;
  private startedAtMs = 0;

  constructor(opts: WorkloadOptions) {
    this.opts = opts;
  }

  /** Starts issuing in the background. */
  start(): this {
    this.startedAtMs = Date.now();
    const loops: Promise<void>[] = [];
    for (let i = 0; i < this.opts.proposers; i++) loops.push(this.proposer(i, this.opts.rng.fork(`proposer-${i}`)));
    this.run = Promise.all(loops).then(() => undefined);
    return this;
  }

  /** Resolves when every proposer has finished (duration or count reached, or stopped). */
  async done(): Promise<void> {
    await this.run;
  }

  /** Stops issuing now and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.wakers) w();
    await this.run;
  }

  /** Attempts by outcome. */
  tally(): Record<AttemptOutcome, number> {
    const t: Record<AttemptOutcome, number> = { pending: 0, acked: 0, rejected: 0, refused: 0, unknown: 0 };
    for (const a of this.attempts) t[a.outcome]++;
    return t;
  }

  private async proposer(i: number, rng: Prng): Promise<void> {
    const name = `p${i}`;
    const periodMs = (1000 * this.opts.proposers) / this.opts.ratePerSec;
    const deadline = this.startedAtMs + this.opts.durationMs;
    // Spread the proposers' phases over one period.
    let nextAt = this.startedAtMs + rng.range(0, periodMs);
    for (let n = 0; ; n++) {
      await this.sleepUntil(nextAt);
      if (this.stopping || Date.now() >= deadline || this.issued >= this.opts.maxAttempts) return;
      this.issued++;
      await this.submit(name, n, i, rng);
      // Bounded rate, no bursts to catch up after a slow request.
      nextAt = Math.max(nextAt + periodMs, Date.now());
    }
  }

  private async submit(proposer: string, n: number, index: number, rng: Prng): Promise<void> {
    const key = `${this.opts.runId}/${proposer}/${n}`;
    const verb = rng.pick(['set', 'move', 'scan', 'hold']);
    const subject = `${this.opts.subjectPrefix ?? 'root.solar.command'}.${proposer}.${verb}`;
    await this.send(
      this.newAttempt(key, null, proposer, n, subject, this.opts.target(index)),
      this.payloadOf(key, proposer, n),
    );
  }

  /**
   * Sends one keyed intent (`Idempotency-Key` = its key) to each of `targets` in turn, the same
   * subject and payload every time; one attempt per target. Resolves with those attempts.
   */
  async submitKeyed(proposer: string, n: number, targets: readonly string[], timeoutMs = 10_000): Promise<Attempt[]> {
    const key = `${this.opts.runId}/${proposer}/${n}`;
    const subject = `${this.opts.subjectPrefix ?? 'root.solar.command'}.${proposer}.set`;
    const payload = this.payloadOf(key, proposer, n);
    const out: Attempt[] = [];
    for (const target of targets) {
      const attempt = this.newAttempt(key, key, proposer, n, subject, target);
      out.push(attempt);
      await this.send(attempt, payload, timeoutMs);
    }
    return out;
  }

  private newAttempt(
    key: string,
    idempotencyKey: string | null,
    proposer: string,
    n: number,
    subject: string,
    target: string,
  ): Attempt {
    const attempt: Attempt = {
      key,
      idempotencyKey,
      proposer,
      n,
      subject,
      target,
      sentAtMs: Date.now(),
      doneAtMs: null,
      outcome: 'pending',
      correlationId: null,
      httpStatus: null,
      error: null,
    };
    this.attempts.push(attempt);
    return attempt;
  }

  private payloadOf(key: string, proposer: string, n: number): WorkloadPayload {
    return {
      ...this.opts.extraPayload?.(key),
      chaos: { run: this.opts.runId, key, proposer, n },
      pad: 'x'.repeat(this.opts.padBytes ?? 64),
    };
  }

  private async send(
    attempt: Attempt,
    payload: WorkloadPayload,
    timeoutMs = this.opts.timeoutMs ?? 3_000,
  ): Promise<void> {
    attempt.sentAtMs = Date.now();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (attempt.idempotencyKey !== null) headers['idempotency-key'] = attempt.idempotencyKey;
    try {
      const res = await fetch(`${attempt.target}/v1/intents`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ subject: attempt.subject, payload }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      attempt.httpStatus = res.status;
      const text = await res.text();
      if (res.status === 202) {
        const body = JSON.parse(text) as { correlationId?: unknown };
        if (typeof body.correlationId !== 'string')
          throw new Error(`202 without a correlationId: ${text.slice(0, 200)}`);
        attempt.correlationId = body.correlationId;
        attempt.outcome = 'acked';
      } else if (res.status >= 400 && res.status < 500) {
        attempt.outcome = 'rejected';
        attempt.error = text.slice(0, 200);
      } else {
        attempt.outcome = 'unknown';
        attempt.error = `HTTP ${res.status}: ${text.slice(0, 200)}`;
      }
    } catch (err) {
      const code = errorCode(err);
      // Refused: the TCP connection never opened, so the sidecar never saw the request.
      attempt.outcome = code === 'ECONNREFUSED' ? 'refused' : 'unknown';
      attempt.error = code ?? String(err);
    } finally {
      attempt.doneAtMs = Date.now();
    }
  }

  private sleepUntil(atMs: number): Promise<void> {
    const ms = atMs - Date.now();
    if (ms <= 0 || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        this.wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}

// The errno-like code of a fetch failure (undici nests it in `cause`).
function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if ((e as { name?: unknown }).name === 'TimeoutError') return 'TIMEOUT';
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
