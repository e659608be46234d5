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
    mentionCount: t.exposeInt('mentionCount', {
      description:
        'Unread replies in this thread that mention you (direct, or @channel/@here as your channel settings count them).',
    }),
  }),
});
const BadgeUpdateRef = builder.objectRef<BadgeUpdate>('BadgeUpdate').implement({
  description:
    'Counts that changed since the previous update to this subscription (at most one per flush window). ' +
    'Mention counts and DM counts are exact in every update; the unread count of other channels is exact when ' +
    'the channel turns unread, once it has been quiet for a moment (BADGE_SETTLE_MS), and at most every ' +
    'BADGE_REFRESH_MS while it keeps talking.',
  fields: (t) => ({
    channels: t.field({ type: [ChannelBadgeRef], resolve: (b) => b.channels }),
    threads: t.field({ type: [ThreadBadgeRef], resolve: (b) => b.threads }),
  }),
});

builder.subscriptionFields((t) => ({
  badges: t.field({
    type: BadgeUpdateRef,
    description:
      'Your sidebar: unread and mention counts of the channels and followed threads this connection is not ' +
      'looking at. An update is sent when what a sidebar shows changes: a channel turns unread, a mention count ' +
      'changes, a DM gets a message, a followed thread gets a reply, or you read something elsewhere; exact unread ' +
      'counts of busy channels follow once they are quiet (passive sessions). Coalesced per flush window.',
    subscribe: (_r, _a, ctx) => ctx.realtime.badges.open(viewerOf(ctx).userId.toString(), ctx.connection),
    resolve: (b) => b,
  }),
}));
