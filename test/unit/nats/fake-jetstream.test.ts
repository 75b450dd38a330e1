import { FakeJetStream } from '../../support/fake-jetstream.js';
import { describeJetStreamContract } from '../../support/jetstream-contract.js';

describeJetStreamContract('FakeJetStream', async ({ duplicateWindowMs }) => {
  const js = new FakeJetStream(() => Date.now(), duplicateWindowMs);
  js.captures = ['ct.>'];
  return {
    publisher: js,
    reader: js,
    stream: 'FAKE',
    prefix: 'ct',
    disconnect: async () => js.setState('disconnected'),
    reconnect: async () => js.setState('connected'),
  };
});
