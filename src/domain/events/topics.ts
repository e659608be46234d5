/**
 * A pub/sub topic: its name, and the id the Redis ring routes it by (the broker port's Topic,
 * src/infra/pubsub/broker.port.ts), plus whether it is a process-wide system topic: one every
 * gateway listens to for as long as it runs, not one a client's subscription made (the hub counts
 * those apart).
 */
export interface Topic {
  readonly name: string;
  readonly shardKey: string;
  readonly system: boolean;
}

const topic = (prefix: string, id: string | bigint, system = false): Topic => ({
  name: `${prefix}:${id}`,
  shardKey: String(id),
  system,
});

/**
 * Topic builders: the only place topics are made. Channel topics carry everything that happens
 * in a channel; user topics what concerns one user on all their connections; presence topics
 * one user's presence; the revocations topic, which every gateway listens to, credentials revoked
 * anywhere; the profiles topic, which every gateway listens to too, profile changes (rare, so one
 * topic on one shard). Each topic carries its shard key (the channel or user id).
 */
export const topics = {
  channel: (channelId: string | bigint) => topic('ch', channelId),
  user: (userId: string | bigint) => topic('u', userId),
  presence: (userId: string | bigint) => topic('p', userId),
  revocations: () => topic('sys', 'revocations', true),
  profiles: () => topic('sys', 'profiles', true),
};
