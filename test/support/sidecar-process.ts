/**
 * A real `net-sync start` process (the built CLI) for integration tests: its own temp dir,
 * buffer file and key, env-based config, stopped by PID. Restart keeps the buffer and key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/nats/nats-server-process.js';
import { tempDir } from './temp-dir.js';
import { waitFor } from './wait-for.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');

export interface SidecarProcessOptions {
  natsUrl: string;
  /** Extra NET_SYNC_* env. */
  env?: Record<string, string>;
  /** Path of a config file passed with --config. */
  configFile?: string;
  dir?: string;
}

export class SidecarProcess {
  readonly dir: string;
  child: ChildProcess | null = null;
  port = 0;

  constructor(private readonly opts: SidecarProcessOptions) {
    this.dir = opts.dir ?? tempDir('sidecar');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get bufferPath(): string {
    return join(this.dir, 'net-sync.db');
  }

  env(): Record<string, string> {
    return {
      PATH: process.env['PATH'] ?? '',
      HOME: this.dir,
      NET_SYNC_NATS_SERVERS: this.opts.natsUrl,
      NET_SYNC_BUFFER_PATH: this.bufferPath,
      NET_SYNC_MESH_KEY_FILE: join(this.dir, 'net-sync.key'),
      NET_SYNC_LOG_LEVEL: 'info',
      NET_SYNC_COMMIT_BACKOFF_MAX_MS: '500',
      NET_SYNC_NATS_RECONNECT_WAIT_MS: '200',
      NET_SYNC_NATS_RECONNECT_JITTER_MS: '100',
      ...this.opts.env,
    };
  }

  /** Starts (or restarts) the process and waits for /healthz. */
  async start(): Promise<void> {
    if (this.child !== null && this.child.exitCode === null && this.child.signalCode === null) {
      throw new Error(`sidecar pid ${this.child.pid} is still running`);
    }
    if (this.port === 0) this.port = await freePort();
    const log = openSync(join(this.dir, 'sidecar.log'), 'a');
    const args = [CLI, 'start', ...(this.opts.configFile === undefined ? [] : ['--config', this.opts.configFile])];
    this.child = spawn(process.execPath, args, { cwd: this.dir, env: { ...this.env(), NET_SYNC_API_LISTEN: `127.0.0.1:${this.port}` }, stdio: ['ignore', log, log] });
    closeSync(log);
    const child = this.child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`sidecar exited with ${child.exitCode}:\n${this.logTail()}`);
      try {
        return (await fetch(`${this.url}/healthz`)).ok;
      } catch {
        return false;
      }
    }, `sidecar on port ${this.port} to answer /healthz`, 20_000, 25);
  }

  /** Sends `signal` to the process by PID and waits for it to exit (SIGKILL/SIGTERM). */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 20_000): Promise<number | null> {
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(join(this.dir, 'sidecar.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async post(path: string, body: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${this.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  }

  async get(path: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`${this.url}${path}`);
    return { status: res.status, json: await res.json() };
  }
}

/** Runs the built CLI to completion. */
export function runCliProcess(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
