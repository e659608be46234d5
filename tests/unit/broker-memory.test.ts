import { createMemoryBroker, createMemoryBus } from '../../src/infra/pubsub/memory.broker.js';
import { describeBrokerContract } from '../contract/broker.contract.js';

// Two "processes" on one in-memory bus.
describeBrokerContract('memory', () => {
  const bus = createMemoryBus();
  const a = createMemoryBroker(bus);
  const b = createMemoryBroker(bus);
  return Promise.resolve({ a, b, close: async () => void (await Promise.all([a.close(), b.close()])) });
});
