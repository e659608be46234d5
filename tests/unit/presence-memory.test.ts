import { createMemoryPresence } from '../../src/infra/presence/presence.memory.js';
import { describePresenceContract } from '../contract/presence.contract.js';

describePresenceContract('memory', async (events, opts) => {
  const presence = createMemoryPresence(events, opts);
  return { presence, close: async () => presence.close() };
});
