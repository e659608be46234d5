import { builder } from '../builder.js';
import { ChannelRef, FileRef, MentionRef, MessageRef, ReactionRef, UserRef } from '../refs.js';
import { connectionType, idString, personalViewer, toConnection, viewerOf } from './common.js';
import { idArg, idArgs } from '../../domain/validate.js';
import { hasLink } from '../../domain/messages/mentions.js';
import { visibleUnfurls } from '../../domain/messages/unfurls.js';
import type { MessageUnfurl } from '../../generated/prisma/client.js';

export const MentionKindEnum = builder.enumType('MentionKind', { values: ['USER', 'HERE', 'CHANNEL'] as const });

MentionRef.implement({
  fields: (t) => ({
    kind: t.field({ type: MentionKindEnum, resolve: (m) => m.kind }),
    userId: t.id({ nullable: true, resolve: (m) => idString(m.userId) }),
    user: t.field({
      type: UserRef,
      nullable: true,
      resolve: (m, _a, ctx) => (m.userId ? ctx.loaders.user.load(m.userId) : null),
    }),
  }),
});

ReactionRef.implement({
  fields: (t) => ({
    emoji: t.exposeString('emoji'),
    count: t.exposeInt('count'),
    reactedByMe: t.boolean({
      resolve: (r, _a, ctx) => {
        const viewer = personalViewer(ctx);
        return viewer ? r.userIds.includes(viewer.userId) : false;
      },
    }),
    userIds: t.idList({ description: 'Who reacted, oldest first', resolve: (r) => r.userIds.map(String) }),
  }),
});

const UnfurlRef = builder.objectRef<MessageUnfurl>('Unfurl').implement({
  description:
    'A link preview: what a page linked from a message says about itself (Open Graph, Twitter card or <title>), fetched by the server after the message was sent or edited',
  fields: (t) => ({
    url: t.exposeString('url', { description: 'The link as it appears in the message (normalized)' }),
    title: t.exposeString('title', { nullable: true, description: "The page's title" }),
    description: t.exposeString('description', { nullable: true, description: "The page's summary" }),
    imageUrl: t.exposeString('imageUrl', {
      nullable: true,
      description: "The page's preview image (an absolute http(s) URL on the linked site; not fetched by this server)",
    }),
    siteName: t.exposeString('siteName', { nullable: true, description: 'The name of the site the page belongs to' }),
  }),
});

MessageRef.implement({
  fields: (t) => ({
    id: t.id({ resolve: (m) => m.id.toString() }),
    channelId: t.id({ resolve: (m) => m.channelId.toString() }),
    channel: t.field({
      type: ChannelRef,
      resolve: async (m, _a, ctx) => (await ctx.loaders.channel.load(m.channelId))!,
    }),
    author: t.field({ type: UserRef, resolve: async (m, _a, ctx) => (await ctx.loaders.user.load(m.authorId))! }),
    text: t.exposeString('text', { description: 'Markdown source, as written; empty once deleted' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    editedAt: t.expose('editedAt', { type: 'DateTime', nullable: true }),
    deleted: t.boolean({ resolve: (m) => m.deletedAt !== null }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true }),
    mentions: t.field({
      type: [MentionRef],
      resolve: (m, _a, ctx) => (m.deletedAt ? [] : ctx.loaders.mentions.load(m.id)),
    }),
    reactions: t.field({
      type: [ReactionRef],
      resolve: (m, _a, ctx) => (m.deletedAt ? [] : ctx.loaders.reactions.load(m.id)),
    }),
    files: t.field({ type: [FileRef], resolve: (m, _a, ctx) => (m.deletedAt ? [] : ctx.loaders.files.load(m.id)) }),
    unfurls: t.field({
      type: [UnfurlRef],
      description:
        'Previews of the links in the text, in text order; they arrive after the message (a MessageEdited event announces them). Empty once deleted',
      resolve: async (m, _a, ctx) =>
        m.deletedAt || !hasLink(m.text) ? [] : visibleUnfurls(m.text, await ctx.loaders.unfurls.load(m.id)),
    }),
    threadRootId: t.id({ nullable: true, resolve: (m) => idString(m.threadRootId) }),
    alsoSentToChannel: t.exposeBoolean('alsoSentToChannel'),
    replyCount: t.exposeInt('replyCount'),
    lastReplyAt: t.expose('lastReplyAt', { type: 'DateTime', nullable: true }),
  }),
});

const MessageConnection = connectionType('Message', MessageRef);
/** Message cursors are message ids (the API contract; domain/paging.ts idCursor reads them back). */
const cursorOf = (m: { id: bigint }) => m.id.toString();
const optionalId = (v: string | null | undefined, field: string) => (v ? idArg(v, field) : null);

const SendMessageInput = builder.inputType('SendMessageInput', {
  fields: (t) => ({
    channelId: t.id({ required: true }),
    text: t.string({
      required: true,
      description: 'Markdown; mentions as <@userId>, <!here>, <!channel>. At most 40,000 characters',
    }),
    threadRootId: t.id({ description: 'Reply in the thread of this message' }),
    alsoSendToChannel: t.boolean({ description: 'A thread reply that also shows in the channel' }),
    fileIds: t.idList(),
    clientNonce: t.string({
      description: 'Makes the send idempotent: a retry with the same nonce returns the first message',
    }),
  }),
});

builder.queryFields((t) => ({
  messages: t.field({
    type: MessageConnection,
    description:
      'Channel history as a Relay connection, newest first. Page into the past with first and after: pageInfo.endCursor; catch up on newer messages with last and before: pageInfo.startCursor (the ones nearest the cursor, still newest first). Cursors are message ids, so after: <a message id> reads the messages older than that message',
    args: {
      channelId: t.arg.id({ required: true }),
      first: t.arg.int({ description: 'How many from the start (newest end) of the window; 1 to 100, default 50' }),
      after: t.arg.id({ description: 'Only messages older than this cursor (a message id)' }),
      last: t.arg.int({ description: 'How many from the end (oldest end) of the window; 1 to 100; not with first' }),
      before: t.arg.id({ description: 'Only messages newer than this cursor (a message id)' }),
    },
    resolve: async (_r, args, ctx) =>
      toConnection(
        await ctx.services.messages.history(viewerOf(ctx), idArg(args.channelId, 'channelId'), args),
        cursorOf,
      ),
  }),
  thread: t.field({
    type: MessageConnection,
    description:
      'Replies of a thread as a Relay connection, oldest first: first and after: pageInfo.endCursor page to newer replies, last and before: pageInfo.startCursor to older ones. Cursors are message ids',
    args: {
      rootId: t.arg.id({ required: true }),
      first: t.arg.int({ description: 'How many from the start (oldest end) of the window; 1 to 100, default 50' }),
      after: t.arg.id({ description: 'Only replies newer than this cursor (a message id)' }),
      last: t.arg.int({ description: 'How many from the end (newest end) of the window; 1 to 100; not with first' }),
      before: t.arg.id({ description: 'Only replies older than this cursor (a message id)' }),
    },
    resolve: async (_r, args, ctx) =>
      toConnection(await ctx.services.messages.thread(viewerOf(ctx), idArg(args.rootId, 'rootId'), args), cursorOf),
  }),
  message: t.field({
    type: MessageRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) =>
      (await ctx.services.messages.accessMessage(viewerOf(ctx), idArg(args.id, 'id'))).message,
  }),
}));

builder.mutationFields((t) => ({
  sendMessage: t.field({
    type: MessageRef,
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      ctx.services.messages.send(viewerOf(ctx), {
        channelId: idArg(input.channelId, 'channelId'),
        text: input.text,
        threadRootId: optionalId(input.threadRootId, 'threadRootId'),
        alsoSendToChannel: input.alsoSendToChannel,
        fileIds: input.fileIds ? idArgs(input.fileIds, 'fileIds') : null,
        clientNonce: input.clientNonce,
      }),
  }),
  editMessage: t.field({
    type: MessageRef,
    args: { id: t.arg.id({ required: true }), text: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.messages.edit(viewerOf(ctx), idArg(args.id, 'id'), args.text),
  }),
  deleteMessage: t.boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.messages.remove(viewerOf(ctx), idArg(args.id, 'id')),
  }),
  addReaction: t.field({
    type: MessageRef,
    args: { messageId: t.arg.id({ required: true }), emoji: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) =>
      ctx.services.reactions.add(viewerOf(ctx), idArg(args.messageId, 'messageId'), args.emoji),
  }),
  removeUnfurl: t.field({
    type: MessageRef,
    description:
      'Takes a link preview off your message; that link is not unfurled again for it, even after an edit. Only the sender may (FORBIDDEN for others; NOT_FOUND for a message you cannot see or a link not in it)',
    args: {
      messageId: t.arg.id({ required: true, description: 'Your message' }),
      url: t.arg.string({ required: true, description: 'The link whose preview goes, as in Unfurl.url' }),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.messages.removeUnfurl(viewerOf(ctx), idArg(args.messageId, 'messageId'), args.url),
  }),
  removeReaction: t.field({
    type: MessageRef,
    args: { messageId: t.arg.id({ required: true }), emoji: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) =>
      ctx.services.reactions.remove(viewerOf(ctx), idArg(args.messageId, 'messageId'), args.emoji),
  }),
}));
