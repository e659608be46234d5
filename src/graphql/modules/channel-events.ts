import { builder } from '../builder.js';
import { MessageRef } from '../refs.js';
import { viewerOf } from './common.js';
import { idArg } from '../../domain/validate.js';
import type { ChannelEventPayload } from '../../realtime/streams.js';
import type { EventOf, WireMessage, WireReaction } from '../../domain/events/events.js';
import type { ReactionSummary } from '../loaders.js';
import { fromWire } from '../../domain/events/wire.js';
import type { GraphQLContext } from '../context.js';
import type { Message } from '../../generated/prisma/client.js';

/** The events of a channel or thread a client is looking at, and the two subscriptions that carry them. */

const fromEvent = new WeakMap<WireMessage, Message>();
const reactionsFromEvent = new WeakMap<WireReaction[], ReactionSummary[]>();

/** An event's reactions in the loader's form (converted once per event, shared by its executions). */
function reactionsOf(wire: WireReaction[]): ReactionSummary[] {
  let r = reactionsFromEvent.get(wire);
  if (!r) {
    r = wire.map((w) => ({ emoji: w.emoji, count: w.count, userIds: w.userIds.map(BigInt) }));
    reactionsFromEvent.set(wire, r);
  }
  return r;
}

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
      resolve: async (e, _a, ctx) => {
        // The event carries the message and its reactions after the change: prime this execution's
        // loader with them, so `reactions { count reactedByMe }` needs no database read per viewer.
        const m = await loadMessage(ctx, e.messageId, e.message);
        ctx.loaders.reactions.prime(m.id, reactionsOf(e.reactions));
        return m;
      },
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
    switch (e.type) {
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

const optionalId = (v: string | null | undefined, field: string) => (v ? idArg(v, field) : null);

builder.subscriptionFields((t) => ({
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
    resolve: (e) => e,
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
    resolve: (e) => e,
  }),
}));
