import { createMemoryPresence } from '../../src/infra/presence/presence.memory.js';
import { describePresenceContract } from '../contract/presence.contract.js';

describePresenceContract('memory', (events, opts) => {
  const presence = createMemoryPresence(events, opts);
  return Promise.resolve({
    presence,
    close: () => {
      presence.close();
      return Promise.resolve();
    },
  });
});
