/**
 * Temp dirs for tests that spawn real processes: created under the OS temp dir and removed when
 * the test file finishes (a process may serve several tests), after the processes using them
 * were stopped. NET_SYNC_KEEP_TMP=1 keeps them for a post-mortem.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerFileCleanup } from './nats-fixture.js';

/** A new temp dir `net-sync-<label>-XXXXXX`, removed when the test file ends. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `net-sync-${label}-`));
  if (process.env['NET_SYNC_KEEP_TMP'] !== '1')
    registerFileCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
