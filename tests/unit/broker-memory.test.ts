import { createMemoryBroker, createMemoryBus } from '../../src/infra/pubsub/memory.broker.js';
import { describeBrokerContract } from '../contract/broker.contract.js';

// Two "processes" on one in-memory bus.
describeBrokerContract('memory', async () => {
  const bus = createMemoryBus();
  const a = createMemoryBroker(bus);
  const b = createMemoryBroker(bus);
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});
