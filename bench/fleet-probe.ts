/**
 * What the fleet benchmark reads off a running sidecar without touching it: CPU and RSS from
 * /proc/<pid>, and the gossip counters of its Prometheus text (`/metrics`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`, 100 on Linux). */
const CLK_TCK = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime of `pid` in seconds; 0 when the process is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Resident set size of `pid` in bytes (VmRSS); 0 when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/**
 * Gossip envelopes one sidecar has handled so far, from `net_sync_gossip_messages_total`
 * (`in`: accepted from peers, `out`: published) and `net_sync_gossip_rejected_total`
 * (refused by the validator, e.g. `not-in-cohort`). Keys are `in:<kind>`, `out:<kind>`,
 * `rejected:<reason>`, and `verify:endorsement` (endorsement signatures checked,
 * `net_sync_consensus_signature_checks_total`).
 */
export type GossipCounts = Record<string, number>;

const LABEL = /(\w+)="([^"]*)"/g;

/** Parses the gossip counters out of Prometheus text. */
export function parseGossip(text: string): GossipCounts {
  const out: GossipCounts = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('net_sync_consensus_signature_checks_total ')) {
      out['verify:endorsement'] = Number(line.slice(line.lastIndexOf(' ') + 1));
      continue;
    }
    const messages = line.startsWith('net_sync_gossip_messages_total{');
    if (!messages && !line.startsWith('net_sync_gossip_rejected_total{')) continue;
    const labels = Object.fromEntries(
      [...line.slice(0, line.lastIndexOf('}')).matchAll(LABEL)].map((m) => [m[1], m[2]]),
    );
    const key = messages ? `${labels['direction']}:${labels['kind']}` : `rejected:${labels['reason']}`;
    out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

/** The gossip counters of the sidecar at `api` (host:port); empty when it does not answer. */
export async function gossipCounts(api: string): Promise<GossipCounts> {
  try {
    const res = await fetch(`http://${api}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return parseGossip(await res.text());
  } catch {
    return {};
  }
}

/** `b − a` per key. */
export function diffCounts(a: GossipCounts, b: GossipCounts): GossipCounts {
  const out: GossipCounts = {};
  for (const [k, v] of Object.entries(b)) out[k] = v - (a[k] ?? 0);
  return out;
}

/** Sums counters of several sidecars key by key. */
export function sumCounts(all: readonly GossipCounts[]): GossipCounts {
  const out: GossipCounts = {};
  for (const c of all) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Envelopes a node validated: accepted (`in:*`) plus refused (`rejected:*`); what a node pays to receive. */
export function received(c: GossipCounts): number {
  let sum = 0;
  for (const [k, v] of Object.entries(c)) if (k.startsWith('in:') || k.startsWith('rejected:')) sum += v;
  return sum;
}
