/**
 * Metrics of the fleet: the home shard's members, how many are connected, and whether its
 * quorum is reachable, read at each scrape.
 */
import { Gauge, type Registry } from 'prom-client';
import type { ShardHealth } from './shard-health.js';

/** Registers the shard gauges on `register`, computed from `health` at each scrape. */
export function createFleetMetrics(register: Registry, health: ShardHealth): void {
  const registers = [register];
  const gauge = (name: string, help: string, value: (s: ReturnType<ShardHealth['status']>) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(health.status()));
      },
    });
  };
  gauge('net_sync_shard_members', "Members of this node's home shard", (s) => s.members.length);
  gauge(
    'net_sync_shard_connected_members',
    "Members of this node's home shard reachable now (itself and mates on the shard topic)",
    (s) => s.connectedMembers,
  );
  gauge('net_sync_shard_quorum', "Endorsements an intent of this node's home shard needs", (s) => s.quorum ?? 0);
  gauge(
    'net_sync_shard_quorum_reachable',
    '1 when the connected members of the home shard can reach its quorum, else 0 (intents wait)',
    (s) => (s.quorumReachable ? 1 : 0),
  );
}
