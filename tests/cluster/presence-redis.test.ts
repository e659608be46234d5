import { pino } from 'pino';
import { afterAll, beforeAll, describe } from 'vitest';
import { createRedisRingBroker } from '../../src/infra/pubsub/redis-ring.broker.js';
import { createRedisPresence } from '../../src/infra/presence/presence.redis.js';
import { describePresenceContract } from '../contract/presence.contract.js';
import { RedisShard, redisServerAvailable } from '../helpers/redis.js';

const available = redisServerAvailable();

describe.skipIf(!available)('redis presence', () => {
  let shards: RedisShard[] = [];
  beforeAll(async () => {
    shards = await Promise.all([0, 1].map(() => RedisShard.start()));
  });
  afterAll(async () => {
    await Promise.all(shards.map((s) => s.kill()));
  });

  describePresenceContract('redis (2 shards)', async (events, opts) => {
    const ring = createRedisRingBroker(
      shards.map((s) => s.url),
      { log: pino({ level: 'silent' }) },
    );
    await ring.ready();
    const presence = createRedisPresence((id) => ring.clientFor(id), events, pino({ level: 'silent' }), {
      ...opts,
      gatewayId: 'g1',
    });
    return { presence, close: async () => (presence.close(), await ring.close()) };
  });
});
