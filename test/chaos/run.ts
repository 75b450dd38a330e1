/**
 * The chaos runner for operators: picks scenarios and seeds, runs them with vitest (the primary
 * runner) and prints one table over the JSON reports they wrote.
 *
 *   npx tsc -p tsconfig.json && node dist/test/chaos/run.js --scenario A,D --seed 42
 *   node dist/test/chaos/run.js --seeds 1,2,3            # every full scenario, three seeds
 *   node dist/test/chaos/run.js --fast                   # the fast variants (A, B, D, I)
 *   node dist/test/chaos/run.js --cli /path/to/dist/src/cli/main.js   # another build
 *
 * Exit code: vitest's (0 when every scenario passed).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Table from 'cli-table3';

const ROOT = resolve(import.meta.dirname, '../../..');
const RESULTS = process.env['NET_SYNC_CHAOS_RESULTS'] ?? join(ROOT, 'test/chaos/results');

const FULL: Record<string, string> = {
  A: 'test/chaos/a-nats-down.test.ts',
  B: 'test/chaos/b-mesh-partition.test.ts',
  C: 'test/chaos/c-both-degraded.test.ts',
  D: 'test/chaos/d-sidecar-crashes.test.ts',
  E: 'test/chaos/e-outage-past-dedupe.test.ts',
  F: 'test/chaos/f-cluster-leader-kill.test.ts',
  G: 'test/chaos/g-soak.test.ts',
  H: 'test/chaos/h-readiness.test.ts',
  I: 'test/chaos/i-inbox.test.ts',
};
const FAST: Record<string, string> = {
  A: 'test/chaos/fast/a-nats-down.test.ts',
  B: 'test/chaos/fast/b-mesh-partition.test.ts',
  D: 'test/chaos/fast/d-sidecar-crashes.test.ts',
  I: 'test/chaos/fast/i-inbox.test.ts',
};

interface Args {
  scenarios: string[];
  seeds: string | undefined;
  fast: boolean;
  cli: string | undefined;
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: node dist/test/chaos/run.js ` +
      '[--scenario A,B,…] [--seed N | --seeds N,M,…] [--fast] [--cli PATH]\n',
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const args: Args = { scenarios: [], seeds: undefined, fast: false, cli: undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => argv[++i] ?? usage(`${flag} needs a value`);
    if (flag === '--scenario' || flag === '--scenarios') args.scenarios.push(...value().toUpperCase().split(','));
    else if (flag === '--seed' || flag === '--seeds') args.seeds = value();
    else if (flag === '--fast') args.fast = true;
    else if (flag === '--cli') args.cli = resolve(value());
    else if (flag === '--help' || flag === '-h') usage('');
    else usage(`unknown argument ${flag}`);
  }
  if (args.seeds !== undefined && !/^\d+(,\d+)*$/.test(args.seeds))
    usage(`--seed: comma-separated unsigned integers, got ${args.seeds}`);
  return args;
}

function files(args: Args): string[] {
  const table = args.fast ? FAST : FULL;
  const wanted = args.scenarios.length === 0 ? Object.keys(table) : args.scenarios;
  return wanted.map(
    (s) => table[s] ?? usage(`no ${args.fast ? 'fast ' : ''}scenario ${s} (have ${Object.keys(table).join(', ')})`),
  );
}

/** One table over the reports written since `sinceMs`. */
function summarize(sinceMs: number): void {
  if (!existsSync(RESULTS)) return;
  const t = new Table({
    head: [
      'scenario',
      'seed',
      'attempts',
      'acks',
      'committed',
      'lost',
      'dup',
      'unexpected',
      'recovered',
      'order inv.',
      'recovery ms',
      'reconcile',
      'outbox = stream',
    ],
    style: { head: [], border: [] },
  });
  const reports = readdirSync(RESULTS)
    .filter((f) => f.endsWith('.json') && statSync(join(RESULTS, f)).mtimeMs >= sinceMs)
    .map(
      (f) =>
        JSON.parse(readFileSync(join(RESULTS, f), 'utf8')) as {
          scenario: string;
          variant: string;
          seed: number;
          recoveryMs: number | null;
          reconcile: Array<{ code: number | null }>;
          outboxDiffs: string[];
          oracle: Record<
            'attempts' | 'acked' | 'committed' | 'lost' | 'duplicated' | 'unexpected' | 'recovered' | 'orderViolations',
            number
          >;
        },
    )
    .sort((a, b) => `${a.scenario}${a.variant}${a.seed}`.localeCompare(`${b.scenario}${b.variant}${b.seed}`));
  for (const r of reports) {
    const o = r.oracle;
    t.push([
      `${r.scenario}/${r.variant}`,
      r.seed,
      o.attempts,
      o.acked,
      o.committed,
      o.lost,
      o.duplicated,
      o.unexpected,
      o.recovered,
      o.orderViolations,
      r.recoveryMs ?? '-',
      r.reconcile.every((x) => x.code === 0) ? 'ok' : 'FAILED',
      r.outboxDiffs.length === 0 ? 'yes' : `NO (${r.outboxDiffs.length})`,
    ]);
  }
  process.stdout.write(
    `\nchaos reports since the start of this run (${reports.length}, in ${RESULTS}):\n${t.toString()}\n`,
  );
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (args.seeds !== undefined) env['NET_SYNC_CHAOS_SEEDS'] = args.seeds;
  if (args.cli !== undefined) env['NET_SYNC_CHAOS_CLI'] = args.cli;
  const vitest = join(ROOT, 'node_modules/vitest/vitest.mjs');
  const child = spawn(process.execPath, [vitest, 'run', '--project', 'chaos', ...files(args)], {
    cwd: ROOT,
    env,
    stdio: 'inherit',
  });
  // Ctrl-C reaches vitest through the terminal's process group; we only wait for it.
  const code = await new Promise<number>((r) => child.once('exit', (c, signal) => r(c ?? (signal === null ? 1 : 128))));
  summarize(started);
  return code;
}

process.exitCode = await main();
