import { MemoryOutbox } from '../../support/memory-outbox.js';
import { describeOutboxContract } from '../../support/outbox-contract.js';

describeOutboxContract('MemoryOutbox', async ({ telemetryCap }) => {
  const outbox = new MemoryOutbox({ telemetryCap });
  return { outbox, dropped: () => outbox.droppedTelemetryTotal, dispose: async () => {} };
});
