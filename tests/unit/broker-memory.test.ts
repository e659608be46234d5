import { createMemoryBroker } from '../../src/infra/pubsub/memory.broker.js';
import { describeBrokerContract } from '../contract/broker.contract.js';

// One process: both "gateways" share the one in-memory engine.
describeBrokerContract('memory', async () => {
  const broker = createMemoryBroker();
  return { a: broker, b: broker, close: () => broker.close() };
});
