import type { ChatEvent, EventPublisher } from '../domain/events/events.js';
import { topics } from '../domain/events/topics.js';
import type { ChannelFeed } from '../domain/channels/channel-cache.js';
import type { ProfileFeed } from '../domain/users/users.service.js';
import type { Hub } from './hub.js';

/**
 * What the domain's read caches hear of a channel: every event of its topic through the local hub
 * (this process's writes and, through the ring, every other gateway's), and this process's own
 * publishes the moment they are made, so a writer's next read here never sees the state before
 * its write. Returns the feed and the publisher the domain must publish through.
 */
export function createChannelFeed(hub: Hub, publisher: EventPublisher): { feed: ChannelFeed; events: EventPublisher } {
  const local = new Map<string, Set<(event: ChatEvent) => void>>();
  return {
    events: {
      publish(event) {
        const listeners = 'channelId' in event ? local.get(event.channelId) : undefined;
        if (listeners) for (const l of [...listeners]) l(event);
        publisher.publish(event);
      },
    },
    feed: {
      async watch(channelId, onEvent, onGap) {
        const key = channelId.toString();
        let set = local.get(key);
        if (!set) local.set(key, (set = new Set()));
        const own = (event: ChatEvent) => onEvent(event);
        set.add(own);
        const forget = () => {
          set.delete(own);
          if (set.size === 0 && local.get(key) === set) local.delete(key);
        };
        try {
          const stop = await hub.listen(topics.channel(channelId), onEvent, onGap);
          return () => {
            stop();
            forget();
          };
        } catch (err) {
          forget();
          throw err;
        }
      },
    },
  };
}

/**
 * What the domain's profile cache hears: ProfileChanged events on the profiles topic (every
 * gateway listens to it, through the ring), and a gap when the engine may have dropped some.
 */
export function createProfileFeed(hub: Hub): ProfileFeed {
  return {
    watch: (onChange, onGap) =>
      hub.listen(
        topics.profiles(),
        (event) => {
          if (event.type === 'ProfileChanged') onChange(BigInt(event.userId));
        },
        onGap,
      ),
  };
}
