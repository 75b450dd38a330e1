/**
 * Our own small launcher for nats-server: a free loopback port, a temp store dir, JetStream on,
 * ready only once the server said so. Used by tests, chaos scenarios and `net-sync demo`.
 * Processes are stopped by PID only, and are killed when the parent process exits (even by
 * SIGKILL, through a watchdog that holds a pipe to the parent).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetSyncError } from '../core/errors.js';
import { reapOnExit } from './child-reaper.js';

/** Debian's nats-server (v2.9.10 here). */
export const NATS_SERVER_BINARY = '/usr/sbin/nats-server';

/** Options of one nats-server process. */
export interface NatsServerOptions {
  /** Client port. Default: a free port. */
  port?: number;
  /** Address the server listens on. Default 127.0.0.1 (a test's own namespace bridge, say). */
  host?: string;
  /** JetStream store dir. Default: a new temp dir, removed by `dispose()`. */
  storeDir?: string;
  /** JetStream domain (a hub or a leaf node with its own JetStream). Default: none. */
  jetstreamDomain?: string;
  /**
   * Extra config text appended to the generated file (authorization, tls, max_payload,
   * cluster…). `host`, `port`, `server_name`, `jetstream` and `http` are generated: don't repeat them.
   */
  config?: string;
  /** Monitoring port: a number, `true` for a free one, or off (default). */
  httpPort?: number | boolean;
  /** `server_name`; required by JetStream clustering. Default: `ns-<port>`. */
  serverName?: string;
  /** Binary to run. Default {@link NATS_SERVER_BINARY}. */
  binary?: string;
  /** How long to wait for "Server is ready". Default 15 s (a cold start on a loaded box). */
  readyTimeoutMs?: number;
}

/** Picks a free TCP port on 127.0.0.1 (the OS chooses; a tiny race with other processes remains). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A free-port picker that never hands out the same port twice, nor one in `taken`: ports are
 * probed free and released, and a group of processes binds them all later.
 */
export function distinctFreePorts(taken: Iterable<number> = []): () => Promise<number> {
  const used = new Set(taken);
  return async () => {
    for (;;) {
      const p = await freePort();
      if (used.has(p)) continue;
      used.add(p);
      return p;
    }
  };
}

/** One nats-server child process with JetStream on a loopback port. */
export class NatsServerProcess {
  /** Address the server listens on. */
  readonly host: string;
  /** Last lines of the server's log (stderr), for diagnostics. */
  readonly logTail: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private configFile = '';
  private readonly opts: NatsServerOptions;
  private portValue = 0;
  private httpPortValue: number | undefined;
  private storeDirValue = '';
  private disposed = false;

  private constructor(opts: NatsServerOptions) {
    this.opts = opts;
    this.host = opts.host ?? '127.0.0.1';
  }

  /** Starts a server and resolves once it is ready (client port open, JetStream enabled). */
  static async start(opts: NatsServerOptions = {}): Promise<NatsServerProcess> {
    for (let attempt = 1; ; attempt++) {
      const server = new NatsServerProcess(opts);
      await server.init();
      try {
        await server.launch();
        return server;
      } catch (err) {
        await server.dispose();
        // Another process may have taken our "free" port between probe and bind: pick again.
        const raced = opts.port === undefined && server.logTail.some((l) => l.includes('address already in use'));
        if (!raced || attempt >= 3) throw err;
      }
    }
  }

  /** Client port. */
  get port(): number {
    return this.portValue;
  }
  /** `nats://<host>:<port>`. */
  get url(): string {
    return `nats://${this.host}:${this.portValue}`;
  }
  /** Monitoring port, when enabled. */
  get httpPort(): number | undefined {
    return this.httpPortValue;
  }
  /** JetStream store dir. */
  get storeDir(): string {
    return this.storeDirValue;
  }
  /** PID of the running process, or undefined when stopped. */
  get pid(): number | undefined {
    return this.child?.pid;
  }
  /** True while the process runs (it may be SIGSTOPped). */
  get running(): boolean {
    return this.child !== undefined;
  }
  /** The generated config file. */
  get configPath(): string {
    return this.configFile;
  }

  private async init(): Promise<void> {
    this.portValue = this.opts.port ?? (await freePort());
    const http = this.opts.httpPort;
    this.httpPortValue = typeof http === 'number' ? http : http === true ? await freePort() : undefined;
    const work = await mkdtemp(join(tmpdir(), 'net-sync-nats-'));
    this.storeDirValue = this.opts.storeDir ?? join(work, 'store');
    this.configFile = join(work, 'nats-server.conf');
    const d = this.opts.jetstreamDomain;
    const domain = d === undefined ? '' : `, domain: ${JSON.stringify(d)}`;
    const lines = [
      `host: ${this.host}`,
      `port: ${this.portValue}`,
      `server_name: ${JSON.stringify(this.opts.serverName ?? `ns-${this.portValue}`)}`,
      `jetstream { store_dir: ${JSON.stringify(this.storeDirValue)}${domain} }`,
      ...(this.httpPortValue === undefined ? [] : [`http: "${this.host}:${this.httpPortValue}"`]),
      this.opts.config ?? '',
    ];
    await writeFile(this.configFile, `${lines.join('\n')}\n`);
  }

  private async launch(): Promise<void> {
    const child = spawn(this.opts.binary ?? NATS_SERVER_BINARY, ['-c', this.configFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    reapOnExit(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const timeoutMs = this.opts.readyTimeoutMs ?? 15_000;
    try {
      await this.waitReady(child, timeoutMs);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private waitReady(child: ChildProcess, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let buf = '';
      let ready = false;
      const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string): void => {
        clearTimeout(timer);
        reject(
          new NetSyncError(
            'INTERNAL',
            `nats-server on port ${this.portValue} ${why}: ${this.logTail.slice(-5).join(' | ')}`,
          ),
        );
      };
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        buf += chunk;
        const parts = buf.split('\n');
        buf = parts.pop() ?? '';
        for (const line of parts) {
          this.logTail.push(line);
          if (this.logTail.length > 200) this.logTail.shift();
          if (!ready && line.includes('Server is ready')) {
            ready = true;
            clearTimeout(timer);
            // Belt and braces: the client port accepts connections.
            void probePort(this.host, this.portValue, timeoutMs).then(resolve, (e) => fail(String(e)));
          }
        }
      });
      child.once('error', (err) => fail(`failed to spawn (${err.message})`));
      child.once('exit', (code, signal) => {
        if (!ready) fail(`exited before ready (code ${code}, signal ${signal})`);
      });
    });
  }

  /**
   * Sends `signal` to the server's PID (chaos: SIGKILL, SIGSTOP, SIGCONT…). After SIGKILL the
   * process is gone; `restart()` starts it again.
   */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }

  /** Waits until the current process has exited (after a kill). */
  async waitExit(): Promise<void> {
    await this.exited;
  }

  /**
   * Stops the server: SIGCONT (in case it was stopped), SIGTERM, then SIGKILL after
   * `timeoutMs` (default 5 s). Safe to call twice.
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined) {
      await this.exited;
      return;
    }
    this.kill('SIGCONT');
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /**
   * Starts the server again on the same port, store dir and config (stopping it first if
   * needed). Resolves when this server is ready; in a cluster, stream leaders may still be
   * electing then, so wait on the condition you need.
   */
  async restart(): Promise<void> {
    if (this.disposed) throw new NetSyncError('INTERNAL', 'nats-server process was disposed');
    await this.stop();
    await this.launch();
  }

  /** Stops the server and removes its temp files (the store dir too, when we created it). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.stop();
    // The work dir holds the config and, when we created it, the store dir.
    await rm(join(this.configFile, '..'), { recursive: true, force: true });
  }
}

// Resolves once a TCP connection to host:port succeeds, retrying briefly.
async function probePort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ host, port });
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not accepting connections`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
