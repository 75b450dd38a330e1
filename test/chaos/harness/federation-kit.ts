/**
 * Parts of the federation acceptance run (issue 20): nats-server started from a config text, a
 * key from the real `net-sync keygen`, a stand-in agent that records when it answered each push,
 * and an independent DSSE verifier written from the specs (DSSE PAE, libp2p peer IDs) with
 * node:crypto alone: it imports no net-sync code, so it cannot share a bug with the product.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { registerCleanup } from '../../support/nats-fixture.js';
import { runCliProcess } from '../../support/sidecar-process.js';
import { spawnNatsFromConfig } from '../../support/federation-servers.js';
import { ed25519KeyFromPeerId, paeOf } from '../../support/independent-dsse.js';

/** Starts nats-server on `configText` (written to `dir`), waits until it is ready; stopped at cleanup. */
export async function startNatsFromConfig(
  dir: string,
  name: string,
  configText: string,
  env: Record<string, string>,
): Promise<ChildProcess> {
  const nats = await spawnNatsFromConfig(dir, name, configText, env);
  registerCleanup(nats.stop);
  return nats.child;
}

/** A new key from `net-sync keygen`; returns its peer ID. */
export async function keygen(file: string, dir: string): Promise<string> {
  const r = await runCliProcess(
    ['keygen', '--out', file, '--json'],
    { PATH: process.env['PATH'] ?? '', HOME: dir },
    dir,
  );
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { peerId: string }).peerId;
}

/** One push the agent answered: its body and when the answer was sent. */
export interface Push {
  eventId: string;
  body: Record<string, unknown>;
  answeredAtMs: number;
}

/** The stand-in agent: answers every push 204 and records it. */
export async function startAgent(): Promise<{ url: string; pushes: Push[]; server: Server }> {
  const pushes: Push[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const json = JSON.parse(body) as Record<string, unknown>;
      res.writeHead(204);
      res.end();
      pushes.push({ eventId: json['eventId'] as string, body: json, answeredAtMs: Date.now() });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  registerCleanup(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/federation`, pushes, server };
}

// --- The independent DSSE verifier.
/** An opened envelope: its type, payload bytes and JSON, the keyids listed and those whose signature verifies. */
export interface Opened {
  payloadType: string;
  body: Buffer;
  keyids: string[];
  signers: string[];
  json: Record<string, unknown>;
}

export function openEnvelope(data: Uint8Array): Opened {
  const env = JSON.parse(Buffer.from(data).toString('utf8')) as {
    payloadType: string;
    payload: string;
    signatures: Array<{ keyid: string; sig: string }>;
  };
  const body = Buffer.from(env.payload, 'base64');
  const signers = new Set(
    env.signatures
      .filter((s) => {
        try {
          return verify(
            null,
            paeOf(env.payloadType, body),
            ed25519KeyFromPeerId(s.keyid),
            Buffer.from(s.sig, 'base64'),
          );
        } catch {
          return false;
        }
      })
      .map((s) => s.keyid),
  );
  return {
    payloadType: env.payloadType,
    body,
    keyids: env.signatures.map((s) => s.keyid),
    signers: [...signers],
    json: JSON.parse(body.toString('utf8')) as Record<string, unknown>,
  };
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
