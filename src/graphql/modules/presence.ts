import { builder } from '../builder.js';
import { viewerOf } from './common.js';
import { idArgs } from '../../domain/validate.js';
import type { PresenceInfo } from '../../realtime/realtime.js';

/** Presence: the state of the users a client shows, as a query, a subscription and setPresence. */

export const PresenceStateEnum = builder.enumType('PresenceState', {
  values: ['ONLINE', 'AWAY', 'DND', 'OFFLINE'] as const,
});
export const PresenceStatusEnum = builder.enumType('PresenceStatus', {
  description: 'What a user sets: AUTO (online when active, away when idle), AWAY, or DND',
  values: ['AUTO', 'AWAY', 'DND'] as const,
});
export const PresenceRef = builder.objectRef<PresenceInfo>('Presence').implement({
  fields: (t) => ({
    userId: t.exposeID('userId'),
    status: t.field({ type: PresenceStateEnum, resolve: (p) => p.status }),
    lastActiveAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (p) => (p.lastActiveAt ? new Date(p.lastActiveAt) : null),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  presence: t.field({
    type: PresenceRef,
    description:
      'Presence of the listed users (the ones your screen shows): their current state, then changes; NOT_FOUND if any of them is unknown or not visible to you',
    args: { userIds: t.arg.idList({ required: true }) },
    subscribe: (_r, args, ctx) =>
      ctx.realtime.streams.presence(viewerOf(ctx), ctx.connection, idArgs(args.userIds, 'userIds', 500)),
    resolve: (e) => e as PresenceInfo,
  }),
}));

builder.queryFields((t) => ({
  presence: t.field({
    type: [PresenceRef],
    description: 'Presence of the listed users now; NOT_FOUND if any of them is unknown or not visible to you',
    args: { userIds: t.arg.idList({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const ids = idArgs(args.userIds, 'userIds', 500);
      await ctx.services.users.requireVisible(viewerOf(ctx), ids);
      return ctx.realtime.presence.get(ids.map(String));
    },
  }),
}));

builder.mutationFields((t) => ({
  setPresence: t.field({
    type: PresenceRef,
    args: { status: t.arg({ type: PresenceStatusEnum, required: true }) },
    resolve: (_r, args, ctx) => ctx.realtime.presence.setStatus(viewerOf(ctx).userId.toString(), args.status),
  }),
}));
