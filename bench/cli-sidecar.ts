/**
 * A sidecar process for the benchmarks that need one: the built CLI (`node dist/src/cli/main.js
 * start`) with `NET_SYNC_*` env, its log in its own dir, stopped by PID (SIGTERM, then SIGKILL).
 * The test kit's SidecarProcess registers vitest cleanups, so the benchmark keeps its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { reapOnExit } from '../src/devkit/child-reaper.js';
import { freePort } from '../src/devkit/nats-server-process.js';

/** The built CLI, next to this file in dist/. */
export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Options of {@link CliSidecar.start}. */
export interface CliSidecarOptions {
  /** Work dir: buffer file, key and log live here. */
  dir: string;
  natsUrl: string;
  /** Extra `NET_SYNC_*` env (inbox, mesh, consensus). */
  env?: Record<string, string>;
  /** Writes a V8 CPU profile of the sidecar into this dir when it exits (`--cpu-prof`). */
  cpuProfDir?: string;
  /** How long to wait for /healthz. Default 30 s. */
  readyTimeoutMs?: number;
  /** Arguments after `start`, e.g. `['--config', file]`. */
  args?: string[];
}

/** One running sidecar process. */
export class CliSidecar {
  private readonly exited: Promise<void>;
  private done = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly logPath: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => (this.done = true));
  }

  /** Spawns the CLI and waits until /healthz answers. */
  static async start(opts: CliSidecarOptions): Promise<CliSidecar> {
    const port = await freePort();
    const logPath = join(opts.dir, 'sidecar.log');
    const log = createWriteStream(logPath, { flags: 'a' });
    const prof = opts.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`];
    const child = spawn(process.execPath, [...prof, CLI, 'start', ...(opts.args ?? [])], {
      cwd: opts.dir,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: opts.dir,
        NET_SYNC_NATS_SERVERS: opts.natsUrl,
        NET_SYNC_API_LISTEN: `127.0.0.1:${port}`,
        NET_SYNC_BUFFER_PATH: join(opts.dir, 'net-sync.db'),
        NET_SYNC_MESH_KEY_FILE: join(opts.dir, 'net-sync.key'),
        // warn: the inbox logs per delivery at debug only, and info would time our logging too.
        NET_SYNC_LOG_LEVEL: 'warn',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    reapOnExit(child);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('exit', () => log.end());
    const sidecar = new CliSidecar(child, port, logPath);
    try {
      await sidecar.waitHealthy(opts.readyTimeoutMs ?? 30_000);
    } catch (err) {
      await sidecar.stop();
      throw err;
    }
    return sidecar;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** `GET <path>` as JSON, or undefined when the sidecar does not answer. */
  async get(path: string): Promise<Record<string, unknown> | undefined> {
    try {
      const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(2_000) });
      return (await res.json()) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM to the PID (the CLI drains), SIGKILL after `timeoutMs`. Safe twice. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.done) return;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** The last lines of the log, for failure messages. */
  logTail(lines = 20): string {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || this.done) return;
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.done) throw new Error(`sidecar exited before /healthz answered:\n${this.logTail()}`);
      try {
        const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1_000) });
        await res.body?.cancel();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(25);
    }
    throw new Error(`sidecar on port ${this.port} not healthy after ${timeoutMs} ms:\n${this.logTail()}`);
  }
}

/** `net-sync keygen --out <dir>/net-sync.key --json` with the real CLI; returns the peer ID. */
export function keygen(dir: string, timeoutMs = 60_000): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'keygen', '--out', join(dir, 'net-sync.key'), '--json'], {
    cwd: dir,
    env: { PATH: process.env['PATH'] ?? '', HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapOnExit(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(String((JSON.parse(out) as { peerId: unknown }).peerId));
      } catch (e) {
        reject(new Error(`net-sync keygen failed (${String(e)}): ${err.slice(-500)}`));
      }
    });
  });
}
