import { connect } from 'nats';
import { describe, expect, it } from 'vitest';
import type { NatsServerProcess } from '../../../src/devkit/nats-server-process.js';
import { useNatsCluster, useNatsServer } from '../../support/nats-fixture.js';

let fromEarlierTest: NatsServerProcess | undefined;

describe('NatsServerProcess', () => {
  it('fixture: a server started in a test…', async () => {
    fromEarlierTest = await useNatsServer();
    expect(fromEarlierTest.running).toBe(true);
  });

  it('…is disposed when that test finishes', () => {
    expect(fromEarlierTest?.running).toBe(false);
  });

  it('starts with JetStream, restarts on the same port and store, stops by PID twice', async () => {
    const nats = await useNatsServer({ httpPort: true });
    const nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await nc.close();
    const res = await fetch(`http://127.0.0.1:${nats.httpPort}/jsz`);
    expect(res.ok).toBe(true);

    const port = nats.port;
    const pid = nats.pid;
    await nats.restart();
    expect(nats.port).toBe(port);
    expect(nats.pid).not.toBe(pid);
    const nc2 = await connect({ servers: nats.url });
    const info = await (await nc2.jetstreamManager()).streams.info('KEEP');
    expect(info.config.name).toBe('KEEP');
    await nc2.close();

    nats.kill('SIGKILL');
    await nats.waitExit();
    expect(nats.running).toBe(false);
    await nats.stop();
    await nats.restart();
    expect(nats.running).toBe(true);
    await nats.stop();
    await nats.stop();
  });

  it('stops a SIGSTOPped server', async () => {
    const nats = await useNatsServer();
    nats.kill('SIGSTOP');
    await nats.stop(2_000);
    expect(nats.running).toBe(false);
  });

  it('runs a 3-node cluster that accepts R3 streams', async () => {
    const cluster = await useNatsCluster();
    expect(cluster.servers.map((s) => s.url)).toHaveLength(3);
    const nc = await connect({ servers: cluster.urls });
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
    expect(info.config.num_replicas).toBe(3);
    await nc.close();
  });
});
