/**
 * The developer kit: not part of a running sidecar. A nats-server launcher (one server or a
 * 3-node cluster, reaped when the parent dies) for tests, chaos scenarios and benchmarks, and
 * `net-sync demo`, which runs a local server and a few sidecars and tells the story of an outage.
 */
export { reapOnExit } from './child-reaper.js';
export { runDemoScenario, type DemoOptions, type DemoSummary } from './demo-run.js';
export { type NatsCluster, type NatsClusterOptions, startNatsCluster } from './nats-cluster.js';
export {
  distinctFreePorts,
  freePort,
  NATS_SERVER_BINARY,
  NatsServerProcess,
  type NatsServerOptions,
} from './nats-server-process.js';
