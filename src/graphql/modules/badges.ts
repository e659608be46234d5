import { builder } from '../builder.js';
import type { BadgeUpdate, ChannelBadge, ThreadBadge } from '../../realtime/badges.js';
import { viewerOf } from './common.js';

/** Unread and mention counts for the channels and threads a client is not looking at. */

const ChannelBadgeRef = builder.objectRef<ChannelBadge>('ChannelBadge').implement({
  fields: (t) => ({
    channelId: t.exposeID('channelId'),
    unreadCount: t.exposeInt('unreadCount'),
    mentionCount: t.exposeInt('mentionCount'),
  }),
});
const ThreadBadgeRef = builder.objectRef<ThreadBadge>('ThreadBadge').implement({
  fields: (t) => ({
    threadRootId: t.exposeID('threadRootId'),
    channelId: t.exposeID('channelId'),
    unreadCount: t.exposeInt('unreadCount'),
  }),
});
const BadgeUpdateRef = builder.objectRef<BadgeUpdate>('BadgeUpdate').implement({
  description: 'Counts that changed since the previous update to this subscription (at most one per flush window)',
  fields: (t) => ({
    channels: t.field({ type: [ChannelBadgeRef], resolve: (b) => b.channels }),
    threads: t.field({ type: [ThreadBadgeRef], resolve: (b) => b.threads }),
  }),
});

builder.subscriptionFields((t) => ({
  badges: t.field({
    type: BadgeUpdateRef,
    description: 'Unread and mention counts of your other channels and followed threads, coalesced',
    subscribe: (_r, _a, ctx) => ctx.realtime.badges.open(viewerOf(ctx).userId.toString(), ctx.connection),
    resolve: (b) => b as BadgeUpdate,
  }),
}));
