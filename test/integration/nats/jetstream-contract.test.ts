import { nanos } from 'nats';
import { JetStreamPublisher } from '../../../src/nats/jetstream-publisher.js';
import { JetStreamReader } from '../../../src/nats/jetstream-reader.js';
import { describeJetStreamContract } from '../../support/jetstream-contract.js';
import { useNatsServer } from '../../support/nats-fixture.js';
import { waitFor } from '../../support/wait-for.js';
import { useConnector } from './helpers.js';

describeJetStreamContract('JetStreamPublisher + JetStreamReader on nats-server', async ({ duplicateWindowMs }) => {
  const nats = await useNatsServer();
  const connector = await useConnector([nats.url]);
  await connector.manager!.streams.add({
    name: 'CONTRACT',
    subjects: ['ct.>'],
    duplicate_window: nanos(duplicateWindowMs),
  });
  const publisher = new JetStreamPublisher({ connector, timeoutMs: 2_000 });
  return {
    publisher,
    reader: new JetStreamReader({ connector }),
    stream: 'CONTRACT',
    prefix: 'ct',
    disconnect: async () => {
      nats.kill('SIGKILL');
      await nats.waitExit();
      await waitFor(() => publisher.state !== 'connected', 'the publisher sees the server gone');
    },
    reconnect: async () => {
      await nats.restart();
      await connector.waitConnected(10_000);
    },
  };
});
