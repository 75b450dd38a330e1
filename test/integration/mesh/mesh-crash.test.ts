/**
 * A node in a separate OS process is SIGKILLed and restarted at once with the same key and
 * port, before its peers have necessarily noticed the old connection died. This is the case
 * where js-libp2p gossipsub has been seen to keep a stale outbound stream and never re-send
 * subscriptions on the new connection.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { generateIdentity, writeIdentity } from '../../../src/mesh/identity.js';
import { waitFor } from '../../support/wait-for.js';
import { addrOf, disposeAll, heartbeat, startNode, type TestNode } from './mesh-fixture.js';

const repo = new URL('../../../', import.meta.url).pathname;
let dir: string;
let childJs: string;

beforeAll(() => {
  // Compile the child and what it imports into a temp dir that resolves node_modules from the repo.
  dir = mkdtempSync(join(tmpdir(), 'net-sync-mesh-crash-'));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const tsc = spawnSync(
    join(repo, 'node_modules/.bin/tsc'),
    [
      '--outDir',
      dir,
      '--rootDir',
      repo,
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--lib',
      'es2023',
      '--types',
      'node',
      '--skipLibCheck',
      '--strict',
      join(repo, 'test/integration/mesh/mesh-child.ts'),
    ],
    { cwd: repo, encoding: 'utf8' },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
  childJs = join(dir, 'test/integration/mesh/mesh-child.js');
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Child {
  proc: ChildProcess;
  lines: Array<{ event: string; from?: string; atMs: number; peerId?: string; addrs?: string[] }>;
}

const children: Child[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  await disposeAll();
});

function spawnChild(args: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, [childJs, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const child: Child = { proc, lines: [] };
  createInterface({ input: proc.stdout! }).on('line', (l) => child.lines.push(JSON.parse(l) as Child['lines'][number]));
  children.push(child);
  return child;
}

async function killHard(c: Child): Promise<void> {
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGKILL'); // by PID, via the handle we spawned
  await exited;
}

describe('crash and immediate restart of a peer process', () => {
  test('SIGKILLed peer restarted with the same key and port exchanges gossip both ways again (5 runs)', async () => {
    mkdirSync(dir, { recursive: true });
    const keyFile = join(dir, 'b.key');
    await writeIdentity(keyFile, await generateIdentity());
    const a: TestNode = await startNode();
    const c: TestNode = await startNode({ peers: [addrOf(a)] });
    let stopA = false;
    void (async () => {
      while (!stopA) {
        await a.node.publish(heartbeat(a.node.peerId)).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const args = { keyFile, listen: ['/ip4/127.0.0.1/tcp/0'], peers: [addrOf(a), addrOf(c)], publishEveryMs: 25 };
    let b = spawnChild(args);
    await waitFor(() => b.lines.some((l) => l.event === 'ready'), 'child ready');
    const ready = b.lines.find((l) => l.event === 'ready')!;
    const bId = ready.peerId!;
    const port = ready.addrs![0]!.split('/')[4]!;
    const fixed = { ...args, listen: [`/ip4/127.0.0.1/tcp/${port}`] };
    const results: Array<{ readyMs: number; bHearsAMs: number; aHearsBMs: number }> = [];
    try {
      for (let run = 1; run <= 5; run++) {
        await waitFor(() => a.received.some((r) => r.from === bId), `run ${run}: a hears b before the crash`);
        await killHard(b);
        const t0 = Date.now();
        b = spawnChild(fixed);
        await waitFor(() => b.lines.some((l) => l.event === 'ready'), `run ${run}: restarted child ready`, 15_000);
        const readyAt = b.lines.find((l) => l.event === 'ready')!.atMs;
        a.received.length = 0;
        await waitFor(
          () => b.lines.some((l) => l.event === 'envelope' && l.from === a.node.peerId),
          `run ${run}: restarted b hears a`,
          15_000,
          5,
        );
        const bHearsA = b.lines.find((l) => l.event === 'envelope' && l.from === a.node.peerId)!.atMs;
        await waitFor(() => a.received.some((r) => r.from === bId), `run ${run}: a hears restarted b`, 15_000, 5);
        await waitFor(
          () => c.received.some((r) => r.from === bId && r.atMs >= t0),
          `run ${run}: c hears restarted b`,
          15_000,
          5,
        );
        const aHearsB = a.received.find((r) => r.from === bId)!.atMs;
        results.push({ readyMs: readyAt - t0, bHearsAMs: bHearsA - readyAt, aHearsBMs: aHearsB - readyAt });
      }
    } finally {
      stopA = true;
    }
    console.log(
      `crash-restart (ms after the child reported ready; process start-up excluded): ${JSON.stringify(results)}`,
    );
    console.log(
      `max: b hears a ${Math.max(...results.map((r) => r.bHearsAMs))} ms, a hears b ${Math.max(...results.map((r) => r.aHearsBMs))} ms, process ready ${Math.max(...results.map((r) => r.readyMs))} ms`,
    );
    expect(Math.max(...results.map((r) => Math.max(r.bHearsAMs, r.aHearsBMs)))).toBeLessThan(5_000);
  });
});
