/**
 * A real sidecar for integration and chaos tests: the built CLI (`node dist/src/cli/main.js
 * start`) as a child process with its own env, buffer file, identity and API port. Signals go
 * to its PID only; a restart keeps the port, buffer file and key. The process dies with the
 * test runner (reaper).
 *
 * Integration tests build one with `new SidecarProcess({ natsUrl })` and call `start()`;
 * chaos scenarios use `SidecarProcess.start({ name, dir, natsServers })`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { reapOnExit } from '../../src/devkit/child-reaper.js';
import { freePort } from '../../src/devkit/nats-server-process.js';
import { tempDir } from './temp-dir.js';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../..');
/** The built CLI; `NET_SYNC_CHAOS_CLI` runs the tests against another build. */
export const CLI = process.env['NET_SYNC_CHAOS_CLI'] ?? join(ROOT, 'dist/src/cli/main.js');

/** Short NATS and commit retries, so that tests of outages end promptly. */
export const FAST_RETRY_ENV: Readonly<Record<string, string>> = {
  NET_SYNC_COMMIT_BACKOFF_MAX_MS: '500',
  NET_SYNC_NATS_RECONNECT_WAIT_MS: '200',
  NET_SYNC_NATS_RECONNECT_JITTER_MS: '100',
};

/** Options of a {@link SidecarProcess}. */
export interface SidecarProcessOptions {
  /** One NATS URL; or `natsServers`. */
  natsUrl?: string;
  /** NATS URLs the sidecar dials (chaos: usually fault-proxy URLs). */
  natsServers?: string[];
  /** Names the files (`<name>.db`, `.key`, `.log`) and the reports. Default `net-sync`. */
  name?: string;
  /** Work dir: buffer file, key, config and log live here. Default: a new temp dir. */
  dir?: string;
  /** A config file (`--config`), e.g. with `streams:`. */
  configFile?: string;
  /** Env under `env`: {@link FAST_RETRY_ENV} unless given. */
  baseEnv?: Readonly<Record<string, string>>;
  /** Extra `NET_SYNC_*` env. */
  env?: Record<string, string>;
  /** How long to wait for /healthz. Default 20 s. */
  readyTimeoutMs?: number;
  /** Address the API listens on. Default 127.0.0.1 (a network namespace's own address, say). */
  host?: string;
  /** Command the CLI runs under, e.g. `['ip', 'netns', 'exec', 'ns1']` (it must exec, keeping the PID). */
  wrap?: string[];
}

/** The outbox figures `GET /v1/status` reports for commands. */
export interface OutboxCounts {
  'pending-commit': number;
  'in-flight': number;
  committed: number;
  dead: number;
  [state: string]: number;
}

/** One sidecar process; see the file comment. */
export class SidecarProcess {
  readonly dir: string;
  readonly bufferPath: string;
  readonly keyFile: string;
  readonly logPath: string;
  /** Starts so far (the first included). */
  starts = 0;
  /** The API port; fixed at the first start. */
  port = 0;
  private childValue: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log: WriteStream | undefined;

  constructor(private readonly opts: SidecarProcessOptions) {
    this.dir = opts.dir ?? tempDir('sidecar');
    const name = opts.name ?? 'net-sync';
    this.bufferPath = join(this.dir, `${name}.db`);
    this.keyFile = join(this.dir, `${name}.key`);
    this.logPath = join(this.dir, `${name}.log`);
  }

  /** A new sidecar, started (chaos scenarios). */
  static async start(opts: SidecarProcessOptions & { name: string; dir: string }): Promise<SidecarProcess> {
    const s = new SidecarProcess({ baseEnv: {}, ...opts });
    await s.start();
    return s;
  }

  get name(): string {
    return this.opts.name ?? 'net-sync';
  }
  /** `http://<host>:<port>`; the same across restarts. */
  get url(): string {
    return `http://${this.host}:${this.port}`;
  }
  /** The address the API listens on. */
  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }
  /** Same as {@link url}. */
  get apiUrl(): string {
    return this.url;
  }
  get child(): ChildProcess | undefined {
    return this.childValue;
  }
  get pid(): number | undefined {
    return this.childValue?.pid;
  }
  get running(): boolean {
    return this.childValue !== undefined;
  }

  /** The env the sidecar (and `net-sync reconcile` on its buffer) runs with. */
  env(): Record<string, string> {
    const servers = this.opts.natsServers ?? (this.opts.natsUrl === undefined ? [] : [this.opts.natsUrl]);
    return {
      PATH: process.env['PATH'] ?? '',
      HOME: this.dir,
      NET_SYNC_NATS_SERVERS: servers.join(','),
      NET_SYNC_API_LISTEN: `${this.host}:${this.port}`,
      NET_SYNC_BUFFER_PATH: this.bufferPath,
      NET_SYNC_MESH_KEY_FILE: this.keyFile,
      NET_SYNC_LOG_LEVEL: 'info',
      ...(this.opts.baseEnv ?? FAST_RETRY_ENV),
      ...this.opts.env,
    };
  }

  /** CLI args that select the config file, if any. */
  configArgs(): string[] {
    return this.opts.configFile === undefined ? [] : ['--config', this.opts.configFile];
  }

  /** Starts (or, after it exited, starts again) and waits for /healthz. */
  async start(): Promise<void> {
    if (this.childValue !== undefined)
      throw new Error(`sidecar ${this.name} pid ${this.childValue.pid} is still running`);
    if (!existsSync(CLI))
      throw new Error(`no built CLI at ${CLI}: run \`npx tsc -p tsconfig.json\` (or set NET_SYNC_CHAOS_CLI)`);
    if (this.port === 0) this.port = await freePort();
    this.log ??= createWriteStream(this.logPath, { flags: 'a' });
    this.starts++;
    this.log.write(`--- start #${this.starts} at ${new Date().toISOString()}\n`);
    const [cmd, ...args] = [...(this.opts.wrap ?? []), process.execPath, CLI, 'start', ...this.configArgs()];
    const child = spawn(cmd!, args, {
      cwd: this.dir,
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.childValue = child;
    reapOnExit(child);
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exited = new Promise((done) => {
      child.once('exit', () => {
        if (this.childValue === child) this.childValue = undefined;
        done();
      });
    });
    await this.waitHealthy(child, this.opts.readyTimeoutMs ?? 20_000);
  }

  /** Sends `signal` to the PID and nothing more (SIGSTOP, SIGCONT, …). */
  signal(signal: NodeJS.Signals): void {
    const pid = this.childValue?.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }

  /**
   * Sends `signal` (default SIGKILL; SIGCONT first, so a stopped process can act on it) and
   * waits for the exit, with SIGKILL after `timeoutMs`. Resolves with the exit code.
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 20_000): Promise<number | null> {
    const child = this.childValue;
    if (child === undefined) return null;
    const code = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    if (signal !== 'SIGKILL') this.signal('SIGCONT');
    this.signal(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    const c = await code;
    clearTimeout(timer);
    await this.exited;
    return c;
  }

  /** SIGKILL, and wait until the process is gone. */
  async crash(): Promise<void> {
    await this.kill('SIGKILL');
  }

  /** SIGTERM (graceful drain), SIGKILL after `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs = 20_000): Promise<number | null> {
    return this.kill('SIGTERM', timeoutMs);
  }

  /** Starts again on the same port, buffer file and key (after a crash or stop). */
  async restart(): Promise<void> {
    if (this.childValue !== undefined) await this.crash();
    await this.start();
  }

  // biome-ignore lint/suspicious/noExplicitAny: tests read fields of many endpoints' JSON answers straight off it
  async post(path: string, body: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  }

  // biome-ignore lint/suspicious/noExplicitAny: tests read fields of many endpoints' JSON answers straight off it
  async get(path: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`${this.url}${path}`);
    return { status: res.status, json: await res.json() };
  }

  /** `GET /v1/status`, or undefined when unreachable. */
  async status(
    timeoutMs = 2_000,
  ): Promise<{ outbox: { command: OutboxCounts }; mesh?: { peers?: number } } | undefined> {
    try {
      const res = await fetch(`${this.url}/v1/status`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return undefined;
      return (await res.json()) as { outbox: { command: OutboxCounts }; mesh?: { peers?: number } };
    } catch {
      return undefined;
    }
  }

  /** The command outbox counts from `GET /v1/status`, or undefined when unreachable. */
  async outboxCounts(timeoutMs = 2_000): Promise<OutboxCounts | undefined> {
    return (await this.status(timeoutMs))?.outbox.command;
  }

  /** `GET /readyz` → true on 200, false on 503 or when unreachable. */
  async ready(timeoutMs = 2_000): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** Resident set size of the process in bytes (from /proc), or undefined. */
  rssBytes(): number | undefined {
    const pid = this.pid;
    if (pid === undefined) return undefined;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m === null ? undefined : Number(m[1]) * 1024;
    } catch {
      return undefined;
    }
  }

  /** Size of the SQLite file plus its WAL, bytes. */
  bufferBytes(): number {
    let total = 0;
    for (const f of [this.bufferPath, `${this.bufferPath}-wal`]) if (existsSync(f)) total += statSync(f).size;
    return total;
  }

  /** Sum of numeric field `field` over every log line (all starts) whose `msg` is `msg`. */
  logSum(msg: string, field: string): number {
    let total = 0;
    for (const line of this.logText().split('\n')) {
      if (!line.includes(msg)) continue;
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (rec['msg'] === msg && typeof rec[field] === 'number') total += rec[field] as number;
      } catch {
        // not a log record
      }
    }
    return total;
  }

  /** The last `n` lines of the sidecar's log (all starts), for assertions and failure reports. */
  logTail(n = 30): string {
    return this.logText()
      .split('\n')
      .slice(-n - 1)
      .join('\n');
  }

  /**
   * Runs `net-sync reconcile --verify --json` on this sidecar's buffer (the sidecar should be
   * stopped, or it holds the publisher lease). Asynchronous on purpose: the fault proxies run
   * in this process and must keep forwarding meanwhile.
   */
  async reconcile(timeoutMs = 60_000): Promise<{ code: number | null; report: unknown; stderr: string }> {
    const r = await runCliProcess(
      ['reconcile', '--verify', '--json', ...this.configArgs()],
      this.env(),
      this.dir,
      timeoutMs,
    );
    let report: unknown;
    try {
      report = JSON.parse(r.stdout);
    } catch {
      report = r.stdout;
    }
    return { code: r.code, report, stderr: r.stderr.slice(-4_000) };
  }

  /** Stops the process (SIGKILL if it does not drain) and closes the log. Safe twice. */
  async dispose(): Promise<void> {
    if (this.childValue !== undefined) await this.stop(5_000);
    this.log?.end();
    this.log = undefined;
  }

  private logText(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  private async waitHealthy(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.childValue !== child)
        throw new Error(`sidecar ${this.name} exited before /healthz answered:\n${this.logTail()}`);
      try {
        const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1_000) });
        await res.body?.cancel();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`sidecar ${this.name} on port ${this.port} not healthy after ${timeoutMs} ms:\n${this.logTail()}`);
  }
}

/** Runs the built CLI to completion (SIGKILL after `timeoutMs`), asynchronously. */
export function runCliProcess(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    reapOnExit(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-64_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
