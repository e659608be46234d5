import { builder } from '../builder.js';
import { MessageRef, UserRef } from '../refs.js';
import { viewerOf } from './common.js';
import { idArg, idArgs } from '../../domain/validate.js';
import type { ChannelEventPayload } from '../../realtime/streams.js';
import type { BadgeUpdate, ChannelBadge, ThreadBadge } from '../../realtime/badges.js';
import type { EventOf, WireMessage } from '../../domain/events/events.js';
import { fromWire } from '../../domain/events/wire.js';
import type { PresenceInfo } from '../../infra/presence/presence.port.js';
import type { GraphQLContext } from '../context.js';
import type { Message } from '../../generated/prisma/client.js';
import type { ThreadFollower } from '../../generated/prisma/client.js';

const fromEvent = new WeakMap<WireMessage, Message>();

async function loadMessage(ctx: GraphQLContext, id: string, wire?: WireMessage): Promise<Message> {
  if (wire) {
    // The event carries the message: no read back, and one conversion per event, not per subscriber.
    let m = fromEvent.get(wire);
    if (!m) fromEvent.set(wire, (m = fromWire(wire)));
    return m;
  }
  const m = await ctx.loaders.message.load(BigInt(id));
  if (!m) throw new Error(`message ${id} vanished`);
  return m;
}

type Posted = Extract<ChannelEventPayload, { type: 'MessagePosted' }>;

const MessagePosted = builder.objectRef<Posted>('MessagePosted').implement({
  description: 'A new message in the channel (or, in a thread subscription, a new reply)',
  fields: (t) => ({
    message: t.field({ type: MessageRef, resolve: (e, _a, ctx) => loadMessage(ctx, e.messageId, e.message) }),
  }),
});
const MessageEdited = builder.objectRef<EventOf<'MessageEdited'>>('MessageEdited').implement({
  fields: (t) => ({ message: t.field({ type: MessageRef, resolve: (e, _a, ctx) => loadMessage(ctx, e.messageId) }) }),
});
const MessageDeleted = builder.objectRef<EventOf<'MessageDeleted'>>('MessageDeleted').implement({
  fields: (t) => ({
    messageId: t.exposeID('messageId'),
    channelId: t.exposeID('channelId'),
    threadRootId: t.exposeID('threadRootId', { nullable: true }),
  }),
});
const ReactionChanged = builder.objectRef<EventOf<'ReactionChanged'>>('ReactionChanged').implement({
  fields: (t) => ({
    message: t.field({
      type: MessageRef,
      description: 'With its reactions as they are now',
      resolve: (e, _a, ctx) => loadMessage(ctx, e.messageId),
    }),
    emoji: t.exposeString('emoji'),
    userId: t.exposeID('userId'),
    added: t.exposeBoolean('added'),
  }),
});
const ThreadUpdated = builder.objectRef<EventOf<'ThreadUpdated'>>('ThreadUpdated').implement({
  description: 'A thread root changed: its reply count and last reply time',
  fields: (t) => ({
    rootId: t.exposeID('rootId'),
    channelId: t.exposeID('channelId'),
    replyCount: t.exposeInt('replyCount'),
    lastReplyAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (e) => (e.lastReplyAt ? new Date(e.lastReplyAt) : null),
    }),
    root: t.field({ type: MessageRef, resolve: (e, _a, ctx) => loadMessage(ctx, e.rootId) }),
  }),
});

const ChannelEvent = builder.unionType('ChannelEvent', {
  types: [MessagePosted, MessageEdited, MessageDeleted, ReactionChanged, ThreadUpdated],
  resolveType: (e) => {
    switch ((e as ChannelEventPayload).type) {
      case 'MessagePosted':
        return MessagePosted;
      case 'MessageEdited':
        return MessageEdited;
      case 'MessageDeleted':
        return MessageDeleted;
      case 'ReactionChanged':
        return ReactionChanged;
      default:
        return ThreadUpdated;
    }
  },
});

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

export const PresenceStateEnum = builder.enumType('PresenceState', {
  values: ['ONLINE', 'AWAY', 'DND', 'OFFLINE'] as const,
});
export const PresenceStatusEnum = builder.enumType('PresenceStatus', {
  description: 'What a user sets: AUTO (online when active, away when idle), AWAY, or DND',
  values: ['AUTO', 'AWAY', 'DND'] as const,
});
const PresenceRef = builder.objectRef<PresenceInfo>('Presence').implement({
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

const TypingEvent = builder.objectRef<EventOf<'Typing'>>('TypingEvent').implement({
  fields: (t) => ({
    channelId: t.exposeID('channelId'),
    threadRootId: t.exposeID('threadRootId', { nullable: true }),
    userId: t.exposeID('userId'),
    user: t.field({ type: UserRef, resolve: async (e, _a, ctx) => (await ctx.loaders.user.load(BigInt(e.userId)))! }),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'Stop showing the indicator after this',
      resolve: (e) => new Date(e.expiresAt),
    }),
  }),
});

const ThreadUnread = builder.objectRef<ThreadFollower>('ThreadUnread').implement({
  fields: (t) => ({
    threadRootId: t.id({ resolve: (f) => f.rootId.toString() }),
    channelId: t.id({ resolve: (f) => f.channelId.toString() }),
    unreadCount: t.exposeInt('unreadCount'),
  }),
});

const optionalId = (v: string | null | undefined, field: string) => (v ? idArg(v, field) : null);

builder.subscriptionType({
  fields: (t) => ({
    channel: t.field({
      type: ChannelEvent,
      description:
        'The channel you are looking at. With after, every message after that id is replayed first, then live events follow, without gaps or repeats',
      args: { channelId: t.arg.id({ required: true }), after: t.arg.id() },
      subscribe: (_r, args, ctx) =>
        ctx.realtime.streams.channel(
          viewerOf(ctx),
          ctx.connection,
          idArg(args.channelId, 'channelId'),
          optionalId(args.after, 'after'),
        ),
      resolve: (e) => e as ChannelEventPayload,
    }),
    thread: t.field({
      type: ChannelEvent,
      description: 'An open thread pane: new replies, edits, deletes and reactions in it, and root updates',
      args: { rootId: t.arg.id({ required: true }), after: t.arg.id() },
      subscribe: (_r, args, ctx) =>
        ctx.realtime.streams.thread(
          viewerOf(ctx),
          ctx.connection,
          idArg(args.rootId, 'rootId'),
          optionalId(args.after, 'after'),
        ),
      resolve: (e) => e as ChannelEventPayload,
    }),
    badges: t.field({
      type: BadgeUpdateRef,
      description: 'Unread and mention counts of your other channels and followed threads, coalesced',
      subscribe: (_r, _a, ctx) => ctx.realtime.badges.open(viewerOf(ctx).userId.toString(), ctx.connection),
      resolve: (b) => b as BadgeUpdate,
    }),
    presence: t.field({
      type: PresenceRef,
      description: 'Presence of the listed users (the ones your screen shows): their current state, then changes',
      args: { userIds: t.arg.idList({ required: true }) },
      subscribe: (_r, args, ctx) =>
        ctx.realtime.streams.presence(viewerOf(ctx), ctx.connection, idArgs(args.userIds, 'userIds', 500)),
      resolve: (e) => e as PresenceInfo,
    }),
    typing: t.field({
      type: TypingEvent,
      description: 'Who is typing in a channel (or, with threadRootId, in one thread), except you',
      args: { channelId: t.arg.id({ required: true }), threadRootId: t.arg.id() },
      subscribe: (_r, args, ctx) =>
        ctx.realtime.streams.typing(
          viewerOf(ctx),
          ctx.connection,
          idArg(args.channelId, 'channelId'),
          optionalId(args.threadRootId, 'threadRootId'),
        ),
      resolve: (e) => e as EventOf<'Typing'>,
    }),
  }),
});

builder.queryFields((t) => ({
  presence: t.field({
    type: [PresenceRef],
    args: { userIds: t.arg.idList({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const users = await ctx.services.users.visibleUsers(viewerOf(ctx), idArgs(args.userIds, 'userIds', 500));
      const ids = users.filter((u) => u !== null).map((u) => u!.id.toString());
      return ctx.realtime.presence.get(ids);
    },
  }),
  unreadThreads: t.field({
    type: [ThreadUnread],
    description: 'Followed threads with unread replies',
    resolve: (_r, _a, ctx) => ctx.services.threads.unreadThreads(viewerOf(ctx)),
  }),
}));

builder.mutationFields((t) => ({
  setPresence: t.field({
    type: PresenceRef,
    args: { status: t.arg({ type: PresenceStatusEnum, required: true }) },
    resolve: (_r, args, ctx) => ctx.realtime.presence.setStatus(viewerOf(ctx).userId.toString(), args.status),
  }),
  typing: t.boolean({
    description:
      'Says you are typing; throttled to one event per 3 s per channel or thread. True when an event went out',
    args: { channelId: t.arg.id({ required: true }), threadRootId: t.arg.id() },
    resolve: (_r, args, ctx) =>
      ctx.services.typing.typing(
        viewerOf(ctx),
        idArg(args.channelId, 'channelId'),
        optionalId(args.threadRootId, 'threadRootId'),
      ),
  }),
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
