/**
 * One seeded scenario run: a temp dir, the processes and proxies it starts (disposed LIFO even
 * on failure), and the end of every scenario: drain, graceful stop, `net-sync reconcile`, read
 * the stream back, judge, print the table and write the JSON report under test/chaos/results/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Table from 'cli-table3';
import { expect } from 'vitest';
import { startNatsCluster, type NatsCluster } from '../../../src/devkit/nats-cluster.js';
import { NatsServerProcess, type NatsServerOptions } from '../../../src/devkit/nats-server-process.js';
import { waitFor } from '../../support/wait-for.js';
import { CleanupStack } from './cleanup-stack.js';
import { FaultProxy } from './fault-proxy.js';
import { compareOutbox, judge, readOutbox, readStream, type OracleReport, type StreamEntry } from './oracle.js';
import { Prng } from './prng.js';
import { ROOT, SidecarProcess, type SidecarProcessOptions } from '../../support/sidecar-process.js';
import { Workload, type WorkloadOptions } from './workload.js';

/** Where reports go. */
export const RESULTS_DIR = process.env['NET_SYNC_CHAOS_RESULTS'] ?? join(ROOT, 'test/chaos/results');

/** What `net-sync reconcile --verify` said. */
export interface ReconcileOutcome {
  sidecar: string;
  code: number | null;
  aligned: boolean | null;
  published: number | null;
  foundInStream: number | null;
  error: string | null;
}

/** The JSON report of one run. */
export interface ScenarioResult {
  scenario: string;
  variant: string;
  seed: number;
  startedAt: string;
  durationMs: number;
  oracle: OracleReport;
  /** Heal → the backlog held at the heal committed (ms); null when there was no heal. */
  recoveryMs: number | null;
  /** Workload end → outbox drained to 0 (ms). */
  drainMs: number;
  reconcile: ReconcileOutcome[];
  /** Where the outbox and the stream disagree after reconcile; empty = equal. */
  outboxDiffs: string[];
  /** Scenario-specific figures: faults injected, budgets, readiness times… */
  extra: Record<string, unknown>;
}

/**
 * A YAML config with the whole root.solar taxonomy as streams: COMMANDS (the one the oracle
 * judges; limits as asked) and the telemetry, federation, observability and dead-letter
 * streams with small limits, so that the sidecar's own telemetry (peer health, pipeline lag)
 * has somewhere to go instead of ending `dead` for lack of a stream.
 */
export function streamsConfig(
  opts: { duplicateWindow?: string; replicas?: 1 | 3; maxBytes?: string; maxAge?: string } = {},
): string {
  const stream = (
    name: string,
    subject: string,
    limits: { maxAge: string; maxBytes: string; duplicateWindow: string },
  ): string[] => [
    `  - name: ${name}`,
    `    subjects: ["root.solar.${subject}.>"]`,
    `    maxAge: ${limits.maxAge}`,
    `    maxBytes: ${limits.maxBytes}`,
    `    duplicateWindow: ${limits.duplicateWindow}`,
    `    replicas: ${opts.replicas ?? 1}`,
  ];
  const side = { maxAge: '1h', maxBytes: '64MiB', duplicateWindow: '2m' };
  return [
    'streams:',
    ...stream('COMMANDS', 'command', {
      maxAge: opts.maxAge ?? '1h',
      maxBytes: opts.maxBytes ?? '256MiB',
      duplicateWindow: opts.duplicateWindow ?? '2m',
    }),
    ...stream('TELEMETRY', 'telemetry', side),
    ...stream('FEDERATION', 'federation', side),
    ...stream('OBSERVABILITY', 'observability', side),
    ...stream('DEADLETTER', 'deadletter', side),
    '',
  ].join('\n');
}

/** One run of one scenario variant with one seed. */
export class ScenarioRun {
  readonly cleanup = new CleanupStack();
  readonly rng: Prng;
  readonly dir: string;
  readonly runId: string;
  readonly startedAtMs = Date.now();
  readonly extra: Record<string, unknown> = {};

  /** Keep the run dir (logs, buffer files) for a post-mortem: on failure or with NET_SYNC_CHAOS_KEEP. */
  keepDir = process.env['NET_SYNC_CHAOS_KEEP'] !== undefined;

  constructor(
    readonly scenario: string,
    readonly variant: string,
    readonly seed: number,
  ) {
    this.rng = new Prng(seed);
    this.dir = mkdtempSync(join(tmpdir(), `net-sync-chaos-${scenario}-`));
    this.runId = `${scenario}-${variant}-${seed}`;
    this.cleanup.push('temp dir', () => {
      if (!this.keepDir) rmSync(this.dir, { recursive: true, force: true });
    });
  }

  /** Starts `net-sync` nats-server (single). */
  async nats(opts: NatsServerOptions = {}): Promise<NatsServerProcess> {
    const s = await NatsServerProcess.start(opts);
    return this.cleanup.push('nats-server', () => s.dispose(), s);
  }

  /** Starts a 3-node JetStream cluster. */
  async cluster(n = 3): Promise<NatsCluster> {
    const c = await startNatsCluster(n);
    return this.cleanup.push('nats cluster', () => c.dispose(), c);
  }

  /** A fault proxy in front of `target`. */
  async proxy(name: string, target: { host: string; port: number }): Promise<FaultProxy> {
    const p = await FaultProxy.start({ name, target, rng: this.rng.fork(`proxy:${name}`) });
    return this.cleanup.push(`proxy ${name}`, () => p.stop(), p);
  }

  /** Writes a config file into the run dir. */
  configFile(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** Starts a sidecar process. */
  async sidecar(opts: Omit<SidecarProcessOptions, 'dir'> & { name: string }): Promise<SidecarProcess> {
    const s = await SidecarProcess.start({ ...opts, dir: this.dir });
    return this.cleanup.push(`sidecar ${opts.name}`, () => s.dispose(), s);
  }

  /**
   * The single-sidecar setup: `s1` dials `nats` through the fault proxy `s1→nats`, with
   * `streams` (default {@link streamsConfig}) as its config file; resolves once `s1` is ready.
   */
  async sidecarViaProxy(
    nats: { host: string; port: number },
    opts: { streams?: string; env?: Record<string, string> } = {},
  ): Promise<{ link: FaultProxy; s1: SidecarProcess }> {
    const link = await this.proxy('s1→nats', { host: nats.host, port: nats.port });
    const configFile = this.configFile('streams.yaml', opts.streams ?? streamsConfig());
    const s1 = await this.sidecar({
      name: 's1',
      natsServers: [link.natsUrl],
      configFile,
      ...(opts.env === undefined ? {} : { env: opts.env }),
    });
    await waitFor(() => s1.ready(), 's1 ready', 20_000, 100);
    return { link, s1 };
  }

  /** Starts a workload (stopped by the cleanup if the scenario fails early). */
  workload(opts: Omit<WorkloadOptions, 'runId' | 'rng'>): Workload {
    const w = new Workload({ ...opts, runId: this.runId, rng: this.rng.fork('workload') }).start();
    return this.cleanup.push('workload', () => w.stop(), w);
  }

  /** Ms until `correlationId` is committed in `sidecar`'s outbox (for recovery time). */
  async committedWithin(sidecar: SidecarProcess, correlationId: string, timeoutMs: number): Promise<number> {
    const started = Date.now();
    await waitFor(
      async () => {
        try {
          const res = await fetch(`${sidecar.apiUrl}/v1/intents/${correlationId}`, {
            signal: AbortSignal.timeout(2_000),
          });
          return res.ok && ((await res.json()) as { state: string }).state === 'committed';
        } catch {
          return false;
        }
      },
      `intent ${correlationId} committed on ${sidecar.name}`,
      timeoutMs,
      50,
    );
    return Date.now() - started;
  }

  /** Waits until `sidecar`'s outbox has nothing proposed, pending or in flight; returns the ms it took. */
  async drained(sidecar: SidecarProcess, timeoutMs: number): Promise<number> {
    const started = Date.now();
    let last: unknown;
    try {
      await waitFor(
        async () => {
          const c = await sidecar.outboxCounts();
          last = c;
          return c !== undefined && c['pending-commit'] === 0 && c['in-flight'] === 0 && (c['proposed'] ?? 0) === 0;
        },
        `the outbox of ${sidecar.name} to drain`,
        timeoutMs,
        100,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last counts ${JSON.stringify(last)}\n${sidecar.logTail()}`);
    }
    return Date.now() - started;
  }

  /**
   * Waits until every sidecar's outbox has nothing proposed, pending or in flight in the same
   * poll, twice in a row `settleMs` apart: a copy one node stores late (a re-proposal heard just
   * after its own drain) is caught before the sidecars stop. Returns the ms it took.
   */
  async drainedTogether(sidecars: readonly SidecarProcess[], timeoutMs: number, settleMs = 500): Promise<number> {
    const started = Date.now();
    const open = async (): Promise<string[]> =>
      (await Promise.all(sidecars.map(async (s) => ({ s, c: await s.outboxCounts() }))))
        .filter(({ c }) => c === undefined || c['pending-commit'] + c['in-flight'] + (c['proposed'] ?? 0) > 0)
        .map(({ s, c }) => `${s.name} ${JSON.stringify(c)}`);
    let last: string[] = [];
    await waitFor(
      async () => {
        last = await open();
        if (last.length > 0) return false;
        await new Promise((r) => setTimeout(r, settleMs));
        last = await open();
        return last.length === 0;
      },
      'every outbox to drain at once',
      timeoutMs,
      100,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; still open: ${last.join('; ')}`);
    });
    return Date.now() - started;
  }

  /**
   * The end of every scenario: graceful stop of each sidecar, `net-sync reconcile --verify` on
   * each buffer, the stream read back directly from `natsUrls` (or `entries` when the
   * scenario observed it itself), the oracle, the outbox comparison, the table and the JSON.
   */
  async finish(opts: {
    sidecars: SidecarProcess[];
    natsUrls: string[];
    workload: Workload;
    recoveryMs: number | null;
    drainMs: number;
    entries?: StreamEntry[];
    /**
     * Messages of other streams the outboxes commit to (dead-letter notices): compared with the
     * outboxes, not judged.
     */
    noticeEntries?: StreamEntry[];
  }): Promise<ScenarioResult> {
    for (const s of opts.sidecars) this.extra[`${s.name}StopCode`] = await s.stop();
    const reconcile: ReconcileOutcome[] = [];
    for (const s of opts.sidecars) {
      const r = await s.reconcile();
      const rep = (typeof r.report === 'object' && r.report !== null ? r.report : {}) as Record<string, unknown>;
      const num = (k: string): number | null => (typeof rep[k] === 'number' ? (rep[k] as number) : null);
      reconcile.push({
        sidecar: s.name,
        code: r.code,
        aligned: typeof rep['aligned'] === 'boolean' ? (rep['aligned'] as boolean) : null,
        published: num('published'),
        foundInStream: num('foundInStream'),
        error: r.code === 0 ? null : `${JSON.stringify(r.report).slice(0, 500)} ${r.stderr.slice(-500)}`,
      });
    }
    const entries =
      opts.entries ?? (await readStream(opts.natsUrls, 'root.solar.command.>', this.startedAtMs - 60_000));
    const rows = (await Promise.all(opts.sidecars.map((s) => readOutbox(s.bufferPath)))).flat();
    const result: ScenarioResult = {
      scenario: this.scenario,
      variant: this.variant,
      seed: this.seed,
      startedAt: new Date(this.startedAtMs).toISOString(),
      durationMs: Date.now() - this.startedAtMs,
      oracle: judge(opts.workload.attempts, entries),
      recoveryMs: opts.recoveryMs,
      drainMs: opts.drainMs,
      reconcile,
      outboxDiffs: compareOutbox(rows, [...entries, ...(opts.noticeEntries ?? [])]).slice(0, 50),
      extra: this.extra,
    };
    report(result);
    return result;
  }
}

/** Runs `body` as one scenario run: prints the seed, cleans up LIFO whatever happens. */
export async function withRun(
  scenario: string,
  variant: string,
  seed: number,
  body: (run: ScenarioRun) => Promise<void>,
): Promise<void> {
  const run = new ScenarioRun(scenario, variant, seed);
  console.log(
    `[chaos] scenario ${scenario}/${variant} seed ${seed} (re-run: NET_SYNC_CHAOS_SEED=${seed}) dir ${run.dir}`,
  );
  try {
    await body(run);
  } catch (err) {
    run.keepDir = true;
    console.log(
      `[chaos] scenario ${scenario}/${variant} seed ${seed} FAILED; logs kept in ${run.dir}; ` +
        `re-run with NET_SYNC_CHAOS_SEED=${seed}`,
    );
    throw err;
  } finally {
    await run.cleanup.runAll();
  }
}

/**
 * The acceptance every scenario ends with: nothing lost, duplicated or unexpected; reconcile
 * aligned; outbox == stream.
 */
export function assertClean(r: ScenarioResult): void {
  const o = r.oracle;
  expect(o.lost, `lost: ${o.examples.lost.join('; ')}`).toBe(0);
  expect(o.duplicated, `duplicated: ${o.examples.duplicated.join('; ')}`).toBe(0);
  expect(o.unexpected, `unexpected: ${o.examples.unexpected.join('; ')}`).toBe(0);
  for (const rec of r.reconcile) expect(rec.code, `net-sync reconcile on ${rec.sidecar}: ${rec.error}`).toBe(0);
  expect(r.outboxDiffs, 'outbox after reconcile differs from the stream').toEqual([]);
  expect(o.acked, 'the workload got no acknowledgement at all').toBeGreaterThan(0);
}

/** Prints the table and writes the JSON report. */
export function report(r: ScenarioResult): void {
  const o = r.oracle;
  const t = new Table({
    head: [
      'scenario',
      'seed',
      'attempts',
      'acks',
      'unknown',
      'committed',
      'lost',
      'dup',
      'unexpected',
      'recovered',
      'order inv.',
      'recovery ms',
      'drain ms',
      'reconcile',
    ],
    style: { head: [], border: [] },
  });
  t.push([
    `${r.scenario}/${r.variant}`,
    r.seed,
    o.attempts,
    o.acked,
    o.unknown,
    o.committed,
    o.lost,
    o.duplicated,
    o.unexpected,
    o.recovered,
    o.orderViolations,
    r.recoveryMs ?? '-',
    r.drainMs,
    r.reconcile
      .map((x) => `${x.code === 0 ? 'ok' : `exit ${x.code}`}${x.published ? ` +${x.published}` : ''}`)
      .join(','),
  ]);
  console.log(`${t.toString()}\n[chaos] extra ${JSON.stringify(r.extra)}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(
    join(RESULTS_DIR, `${r.scenario}-${r.variant}-${r.seed}-${r.startedAt.replace(/[:.]/g, '')}.json`),
    `${JSON.stringify(r, null, 2)}\n`,
  );
}

/** The newest attempt acked before now (its commit marks the pre-heal backlog as drained). */
export function lastAcked(w: Workload): string | null {
  for (let i = w.attempts.length - 1; i >= 0; i--) {
    const a = w.attempts[i]!;
    if (a.outcome === 'acked' && a.correlationId !== null) return a.correlationId;
  }
  return null;
}

/** Waits `ms` of a seeded fault schedule (a fault's duration, not a synchronisation). */
export function hold(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
