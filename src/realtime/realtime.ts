import type { Broker } from '../infra/pubsub/broker.port.js';
import type { BadgeManager } from './badges.js';
import type { Hub } from './hub.js';
import type { Presence } from '../infra/presence/presence.port.js';
import type { Streams } from './streams.js';

/** The real-time parts one process runs, built in the composition root. */
export interface Realtime {
  broker: Broker;
  hub: Hub;
  presence: Presence;
  badges: BadgeManager;
  streams: Streams;
}
export type { PresenceInfo } from '../infra/presence/presence.port.js';
