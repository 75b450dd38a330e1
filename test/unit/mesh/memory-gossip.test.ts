import { describeGossipContract } from '../../support/gossip-contract.js';
import { MemoryGossipBus } from '../../support/memory-gossip.js';

describeGossipContract('MemoryGossip', async (n) => (await MemoryGossipBus.create(n)).nodes);
