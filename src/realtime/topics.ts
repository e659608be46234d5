/**
 * Topic builders: the only place topic names are made. Channel topics carry everything that
 * happens in a channel; user topics what concerns one user on all their connections; presence
 * topics one user's presence. The shard key (for the Redis ring) is the id after the prefix.
 */
export const topics = {
  channel: (channelId: string | bigint) => `ch:${channelId}`,
  user: (userId: string | bigint) => `u:${userId}`,
  presence: (userId: string | bigint) => `p:${userId}`,
};

/** The id a topic is routed by. */
export const shardKeyOf = (topic: string) => topic.slice(topic.indexOf(':') + 1);
