import { builder } from '../builder.js';
import { ChannelRef, MessageRef, UserRef, WorkspaceRef } from '../refs.js';
import { connectionArgs, connectionType, idString, personalViewer, toConnection, viewerOf } from './common.js';
import { UserConnection } from './user.js';
import { idArg, idArgs } from '../../domain/validate.js';
import { badInput, isDomainError } from '../../domain/errors.js';
import type { Channel } from '../../generated/prisma/client.js';
import type { GraphQLContext } from '../context.js';

export const NotificationLevelEnum = builder.enumType('NotificationLevel', {
  values: ['ALL', 'MENTIONS', 'NONE'] as const,
});
export const ChannelKindEnum = builder.enumType('ChannelKind', { values: ['PUBLIC', 'PRIVATE', 'DIRECT'] as const });

/** The people in a direct message (from its key: workspace id, then the sorted member ids); [] for channels. */
export function dmMemberIds(c: Channel): bigint[] {
  if (c.kind !== 'DIRECT' || !c.dmKey) return [];
  return c.dmKey
    .split(':')[1]!
    .split(',')
    .map((s) => BigInt(s));
}

const membership = (c: Channel, ctx: GraphQLContext) => {
  personalViewer(ctx);
  return ctx.loaders.myMembership.load(c.id);
};

ChannelRef.implement({
  description: 'A public or private channel, or a direct message (a DM is a channel)',
  fields: (t) => ({
    id: t.id({ resolve: (c) => c.id.toString() }),
    workspaceId: t.id({ resolve: (c) => c.workspaceId.toString() }),
    workspace: t.field({
      type: WorkspaceRef,
      resolve: async (c, _a, ctx) => (await ctx.loaders.workspace.load(c.workspaceId))!,
    }),
    kind: t.field({ type: ChannelKindEnum, resolve: (c) => c.kind }),
    name: t.exposeString('name', { description: 'Empty for direct messages' }),
    private: t.boolean({ resolve: (c) => c.kind !== 'PUBLIC' }),
    isDirect: t.boolean({ resolve: (c) => c.kind === 'DIRECT' }),
    topic: t.exposeString('topic'),
    memberCount: t.exposeInt('memberCount'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastMessageId: t.id({ nullable: true, resolve: (c) => idString(c.lastMessageId) }),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      description: 'The newest message listed in the channel (a preview for the channel list); null when none',
      resolve: async (c, _a, ctx) => {
        if (!c.lastMessageId) return null;
        const m = await ctx.loaders.message.load(c.lastMessageId);
        return m && m.listed && !m.deletedAt ? m : null;
      },
    }),
    isMember: t.boolean({ resolve: async (c, _a, ctx) => (await membership(c, ctx)) !== null }),
    unreadCount: t.int({
      description: 'Messages in the channel after your read position (0 when not a member)',
      resolve: async (c, _a, ctx) => {
        const m = await membership(c, ctx);
        return m ? Math.max(0, Number(c.lastSeq - m.lastReadSeq)) : 0;
      },
    }),
    mentionCount: t.int({ resolve: async (c, _a, ctx) => (await membership(c, ctx))?.mentionCount ?? 0 }),
    lastReadMessageId: t.id({
      nullable: true,
      resolve: async (c, _a, ctx) => idString((await membership(c, ctx))?.lastReadMessageId),
    }),
    notificationLevel: t.field({
      type: NotificationLevelEnum,
      resolve: async (c, _a, ctx) => (await membership(c, ctx))?.notificationLevel ?? 'ALL',
    }),
    muted: t.boolean({ resolve: async (c, _a, ctx) => (await membership(c, ctx))?.muted ?? false }),
    directMembers: t.field({
      type: [UserRef],
      description: 'For direct messages: the people in it (empty for channels)',
      resolve: async (c, _a, ctx) => {
        const ids = dmMemberIds(c);
        const users = await Promise.all(ids.map((id) => ctx.loaders.user.load(id)));
        return users.filter((u) => u !== null);
      },
    }),
  }),
});

const ChannelConnection = connectionType('Channel', ChannelRef);

builder.queryFields((t) => ({
  channel: t.field({
    type: ChannelRef,
    nullable: true,
    description: 'A channel you may read; null when it does not exist or is hidden from you',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const viewer = viewerOf(ctx);
      try {
        return (await ctx.services.channels.accessChannel(viewer, idArg(args.id, 'id'))).channel;
      } catch (err) {
        if (isDomainError(err) && err.code === 'NOT_FOUND') return null;
        throw err;
      }
    },
  }),
  channels: t.field({
    type: ChannelConnection,
    description:
      'Browse the public channels of a workspace, by name (case-insensitive, then by id), as a Relay connection: first and after: pageInfo.endCursor page forward, last and before: pageInfo.startCursor backward. Cursors are opaque',
    args: {
      workspaceId: t.arg.id({ required: true }),
      query: t.arg.string(),
      ...connectionArgs('channel'),
    },
    resolve: async (_r, args, ctx) => {
      const page = await ctx.services.channels.browse(viewerOf(ctx), idArg(args.workspaceId, 'workspaceId'), args);
      return toConnection(page, page.cursorOf);
    },
  }),
  channelMembers: t.field({
    type: UserConnection,
    description:
      'Members of a channel you may read, by user id, as a Relay connection: first and after: pageInfo.endCursor page forward, last and before: pageInfo.startCursor backward. Cursors are opaque',
    args: { channelId: t.arg.id({ required: true }), ...connectionArgs('member') },
    resolve: async (_r, args, ctx) => {
      const page = await ctx.services.channels.members(viewerOf(ctx), idArg(args.channelId, 'channelId'), args);
      return toConnection(page, page.cursorOf);
    },
  }),
}));

builder.mutationFields((t) => ({
  createChannel: t.field({
    type: ChannelRef,
    args: {
      workspaceId: t.arg.id({ required: true }),
      name: t.arg.string({ required: true }),
      private: t.arg.boolean(),
      topic: t.arg.string(),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.channels.createChannel(viewerOf(ctx), {
        ...args,
        workspaceId: idArg(args.workspaceId, 'workspaceId'),
      }),
  }),
  setChannelTopic: t.field({
    type: ChannelRef,
    args: { channelId: t.arg.id({ required: true }), topic: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) =>
      ctx.services.channels.setTopic(viewerOf(ctx), idArg(args.channelId, 'channelId'), args.topic),
  }),
  joinChannel: t.field({
    type: ChannelRef,
    args: { channelId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.channels.joinChannel(viewerOf(ctx), idArg(args.channelId, 'channelId')),
  }),
  leaveChannel: t.boolean({
    args: { channelId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.channels.leaveChannel(viewerOf(ctx), idArg(args.channelId, 'channelId')),
  }),
  removeFromChannel: t.boolean({
    description:
      'Removes a person or a bot from a channel: workspace owners and admins only (FORBIDDEN otherwise). False when they were not a member; #general and direct messages cannot be left (BAD_USER_INPUT). Their open subscriptions to a private channel end with NOT_FOUND.',
    args: {
      channelId: t.arg.id({ required: true, description: 'The channel, which the caller belongs to.' }),
      userId: t.arg.id({ required: true, description: "Who is removed: a member of the channel's workspace." }),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.channels.removeFromChannel(
        viewerOf(ctx),
        idArg(args.channelId, 'channelId'),
        idArg(args.userId, 'userId'),
      ),
  }),
  inviteToChannel: t.field({
    type: ChannelRef,
    args: { channelId: t.arg.id({ required: true }), userIds: t.arg.idList({ required: true }) },
    resolve: (_r, args, ctx) =>
      ctx.services.channels.inviteToChannel(
        viewerOf(ctx),
        idArg(args.channelId, 'channelId'),
        idArgs(args.userIds, 'userIds'),
      ),
  }),
  openDirectMessage: t.field({
    type: ChannelRef,
    args: { workspaceId: t.arg.id({ required: true }), userIds: t.arg.idList({ required: true }) },
    resolve: (_r, args, ctx) => {
      if (args.userIds.length === 0) throw badInput('input/empty', 'userIds must not be empty', { field: 'userIds' });
      return ctx.services.channels.openDirectMessage(
        viewerOf(ctx),
        idArg(args.workspaceId, 'workspaceId'),
        idArgs(args.userIds, 'userIds', 8),
      );
    },
  }),
  setNotificationLevel: t.field({
    type: ChannelRef,
    args: {
      channelId: t.arg.id({ required: true }),
      level: t.arg({ type: NotificationLevelEnum, required: true }),
      muted: t.arg.boolean(),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.channels.setNotificationLevel(
        viewerOf(ctx),
        idArg(args.channelId, 'channelId'),
        args.level,
        args.muted,
      ),
  }),
  markRead: t.field({
    type: ChannelRef,
    args: { channelId: t.arg.id({ required: true }), messageId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const channelId = idArg(args.channelId, 'channelId');
      await ctx.services.readState.markRead(viewerOf(ctx), channelId, idArg(args.messageId, 'messageId'));
      ctx.loaders.myMembership.clear(channelId);
      return (await ctx.services.channels.accessChannel(viewerOf(ctx), channelId)).channel;
    },
  }),
}));
