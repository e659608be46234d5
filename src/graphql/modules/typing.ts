import { builder } from '../builder.js';
import { UserRef } from '../refs.js';
import { viewerOf } from './common.js';
import { idArg } from '../../domain/validate.js';
import type { EventOf } from '../../domain/events/events.js';

/** Typing indicators: ephemeral, throttled, never stored. */

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

const optionalId = (v: string | null | undefined, field: string) => (v ? idArg(v, field) : null);

builder.subscriptionFields((t) => ({
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
    resolve: (e) => e,
  }),
}));

builder.mutationFields((t) => ({
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
}));
