/**
 * The stand-in agent of bench (g) in a process of its own, as a real agent runs beside the
 * sidecar rather than on its event loop: node:http on loopback, answering 204 to every push at
 * once. Run with `fork()`; over IPC it sends `{port}` once listening, `{first: true}` at the first
 * push and `{reached: n}` when `--expect n` pushes have arrived, and answers `'report'` with
 * {@link PushAgentReport}. Exits on `'stop'` or when its parent goes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the agent answers to `'report'`. */
export interface PushAgentReport {
  report: true;
  /** Requests received (duplicates included). */
  pushes: number;
  /** The agent's CPU (user + system) from the first push on, in ms. */
  cpuMs: number;
}

/** Messages from the agent to its parent. */
export type PushAgentMessage = { port: number } | { first: true } | { reached: number } | PushAgentReport;

const send = (m: PushAgentMessage): void => void process.send?.(m);
const idx = process.argv.indexOf('--expect');
const expect = Number(idx > 0 ? process.argv[idx + 1] : Number.NaN);
let pushes = 0;
let cpuAtFirst: NodeJS.CpuUsage | undefined;

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (pushes++ === 0) {
      cpuAtFirst = process.cpuUsage();
      send({ first: true });
    }
    if (pushes === expect) send({ reached: pushes });
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 60_000;

process.on('message', (m) => {
  if (m === 'report') {
    const cpu = process.cpuUsage(cpuAtFirst);
    send({ report: true, pushes, cpuMs: cpuAtFirst === undefined ? 0 : (cpu.user + cpu.system) / 1_000 });
  } else if (m === 'stop') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => send({ port: (server.address() as AddressInfo).port }));
