/**
 * A real sidecar: the built CLI (`node dist/src/cli/main.js start`) as a child process with its
 * own env, buffer file, identity and API port. Signals go to its PID only; `restart()` starts it
 * again on the same port, buffer file and key. The process dies with the test runner (reaper).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { reapOnExit } from '../../../src/nats/child-reaper.js';
import { freePort } from '../../../src/nats/nats-server-process.js';

/** The repository root and the built CLI that chaos scenarios run. */
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
/** Override with `NET_SYNC_CHAOS_CLI` to run the suite against another build. */
export const CLI_MAIN = process.env['NET_SYNC_CHAOS_CLI'] ?? join(REPO_ROOT, 'dist/src/cli/main.js');

/** Options of {@link SidecarProcess.start}. */
export interface SidecarOptions {
  /** Name in reports and file names, e.g. `s1`. */
  name: string;
  /** Work dir: buffer file, key, config and log live here. */
  dir: string;
  /** NATS URLs the sidecar dials (usually fault-proxy URLs). */
  natsServers: string[];
  /** A config file (`--config`), e.g. with `streams:`. */
  configFile?: string;
  /** Extra `NET_SYNC_*` env. */
  env?: Record<string, string>;
  /** How long to wait for /healthz. Default 20 s. */
  readyTimeoutMs?: number;
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
  readonly bufferPath: string;
  readonly keyFile: string;
  readonly logPath: string;
  /** Starts (the first included). */
  starts = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log: WriteStream | undefined;
  private apiPort = 0;

  private constructor(private readonly opts: SidecarOptions) {
    this.bufferPath = join(opts.dir, `${opts.name}.db`);
    this.keyFile = join(opts.dir, `${opts.name}.key`);
    this.logPath = join(opts.dir, `${opts.name}.log`);
  }

  /** Spawns the sidecar and waits for /healthz. */
  static async start(opts: SidecarOptions): Promise<SidecarProcess> {
    if (!existsSync(CLI_MAIN)) throw new Error(`no built CLI at ${CLI_MAIN}: run \`npx tsc -p tsconfig.json\` (or set NET_SYNC_CHAOS_CLI)`);
    const s = new SidecarProcess(opts);
    s.apiPort = await freePort();
    await s.launch();
    return s;
  }

  get name(): string {
    return this.opts.name;
  }
  /** `http://127.0.0.1:<port>`; the same across restarts. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== undefined;
  }

  /** The env the sidecar (and `net-sync reconcile` on its buffer) runs with. */
  env(): Record<string, string> {
    return {
      PATH: process.env['PATH'] ?? '',
      HOME: this.opts.dir,
      NET_SYNC_NATS_SERVERS: this.opts.natsServers.join(','),
      NET_SYNC_API_LISTEN: `127.0.0.1:${this.apiPort}`,
      NET_SYNC_BUFFER_PATH: this.bufferPath,
      NET_SYNC_MESH_KEY_FILE: this.keyFile,
      NET_SYNC_LOG_LEVEL: 'info',
      ...this.opts.env,
    };
  }

  /** CLI args that select the config file, if any. */
  configArgs(): string[] {
    return this.opts.configFile === undefined ? [] : ['--config', this.opts.configFile];
  }

  /** Sends `signal` to the sidecar's PID (SIGKILL, SIGSTOP, SIGCONT, SIGTERM). */
  kill(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGKILL and wait until the process is gone. */
  async crash(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }

  /** SIGCONT + SIGTERM (graceful drain), SIGKILL after `timeoutMs`; resolves with the exit code. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    const child = this.child;
    if (child === undefined) return null;
    const code = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    this.kill('SIGCONT');
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    const c = await code;
    clearTimeout(timer);
    await this.exited;
    return c;
  }

  /** Starts again on the same port, buffer file and key (after a crash or stop). */
  async restart(): Promise<void> {
    if (this.child !== undefined) await this.crash();
    await this.launch();
  }

  /** `GET /v1/status`, or undefined when unreachable. */
  async status(timeoutMs = 2_000): Promise<{ outbox: { command: OutboxCounts }; mesh?: { peers?: number } } | undefined> {
    try {
      const res = await fetch(`${this.apiUrl}/v1/status`, { signal: AbortSignal.timeout(timeoutMs) });
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
      const res = await fetch(`${this.apiUrl}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** Resident set size of the process in bytes (from /proc), or undefined. */
  rssBytes(): number | undefined {
    const pid = this.child?.pid;
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
    let text = '';
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      return 0;
    }
    for (const line of text.split('\n')) {
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

  /** The last `n` lines of the sidecar's log, for failure reports. */
  logTail(n = 20): string {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-n - 1).join('\n');
    } catch {
      return '';
    }
  }

  /**
   * Runs `net-sync reconcile --verify --json` on this sidecar's buffer (the sidecar should be
   * stopped, or it holds the publisher lease). Asynchronous on purpose: the fault proxies run
   * in this process and must keep forwarding meanwhile.
   */
  async reconcile(timeoutMs = 60_000): Promise<{ code: number | null; report: unknown; stderr: string }> {
    const child = spawn(process.execPath, [CLI_MAIN, 'reconcile', '--verify', '--json', ...this.configArgs()], {
      cwd: this.opts.dir,
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    reapOnExit(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8_000)));
    const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    clearTimeout(timer);
    let report: unknown;
    try {
      report = JSON.parse(stdout);
    } catch {
      report = stdout;
    }
    return { code, report, stderr: stderr.slice(-4_000) };
  }

  private async launch(): Promise<void> {
    this.log ??= createWriteStream(this.logPath, { flags: 'a' });
    this.starts++;
    this.log.write(`--- start #${this.starts} at ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, [CLI_MAIN, 'start', ...this.configArgs()], {
      cwd: this.opts.dir,
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    reapOnExit(child);
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    await this.waitHealthy(child, this.opts.readyTimeoutMs ?? 20_000);
  }

  private async waitHealthy(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child !== child) throw new Error(`sidecar ${this.name} exited before /healthz answered:\n${this.logTail()}`);
      try {
        const res = await fetch(`${this.apiUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
        await res.body?.cancel();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`sidecar ${this.name} not healthy after ${timeoutMs} ms:\n${this.logTail()}`);
  }

  /** Stops the process (SIGKILL if it does not drain) and closes the log. Safe twice. */
  async dispose(): Promise<void> {
    if (this.child !== undefined) await this.stop(5_000);
    this.log?.end();
    this.log = undefined;
  }
}
