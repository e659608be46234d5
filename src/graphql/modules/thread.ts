import { builder } from '../builder.js';
import { viewerOf } from './common.js';
import { idArg } from '../../domain/validate.js';
import type { ThreadFollower } from '../../generated/prisma/client.js';

/** Following threads and their unread state (the thread pane itself is the thread subscription). */

const ThreadUnread = builder.objectRef<ThreadFollower>('ThreadUnread').implement({
  fields: (t) => ({
    threadRootId: t.id({ resolve: (f) => f.rootId.toString() }),
    channelId: t.id({ resolve: (f) => f.channelId.toString() }),
    unreadCount: t.exposeInt('unreadCount'),
    mentionCount: t.exposeInt('mentionCount', {
      description: 'Unread replies in this thread that mention you; reset by markThreadRead.',
    }),
  }),
});

builder.queryFields((t) => ({
  unreadThreads: t.field({
    type: [ThreadUnread],
    description: 'Followed threads with unread replies, with how many of them mention you',
    resolve: (_r, _a, ctx) => ctx.services.threads.unreadThreads(viewerOf(ctx)),
  }),
}));

builder.mutationFields((t) => ({
  followThread: t.boolean({
    args: { rootId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.threads.follow(viewerOf(ctx), idArg(args.rootId, 'rootId')),
  }),
  unfollowThread: t.boolean({
    args: { rootId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.threads.unfollow(viewerOf(ctx), idArg(args.rootId, 'rootId')),
  }),
  markThreadRead: t.boolean({
    args: { rootId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.threads.markRead(viewerOf(ctx), idArg(args.rootId, 'rootId')),
  }),
}));
