import { createMemoryPresence } from '../../src/realtime/presence.js';
import { describePresenceContract } from '../contract/presence.contract.js';

describePresenceContract('memory', async (events, opts) => {
  const presence = createMemoryPresence(events, opts);
  return { presence, close: async () => presence.close() };
});
