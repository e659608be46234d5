import type { Bot, Token } from '../../generated/prisma/client.js';
import { builder } from '../builder.js';
import { BotRef, ChannelRef, UserRef, WorkspaceRef } from '../refs.js';
import { personalViewer, viewerOf } from './common.js';
import { idArg } from '../../domain/validate.js';
import { BOT_SCOPES } from '../../domain/viewer.js';

export const WorkspaceRoleEnum = builder.enumType('WorkspaceRole', { values: ['OWNER', 'ADMIN', 'MEMBER'] as const });
export const BotScopeEnum = builder.enumType('BotScope', { values: BOT_SCOPES });

WorkspaceRef.implement({
  fields: (t) => ({
    id: t.id({ resolve: (w) => w.id.toString() }),
    name: t.exposeString('name'),
    inviteCode: t.exposeString('inviteCode', { description: 'Share it to let people join with joinWorkspace' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    myRole: t.field({
      type: WorkspaceRoleEnum,
      resolve: async (w, _a, ctx) => (
        personalViewer(ctx),
        ((await ctx.loaders.myRole.load(w.id)) ?? 'MEMBER') as 'OWNER' | 'ADMIN' | 'MEMBER'
      ),
    }),
    memberCount: t.int({ resolve: (w, _a, ctx) => ctx.services.workspaces.memberCount(w.id) }),
    channels: t.field({
      type: [ChannelRef],
      description: 'Channels and direct messages of this workspace that you are a member of',
      resolve: async (w, _a, ctx) => {
        personalViewer(ctx);
        const rows = await ctx.services.channels.myMemberships(viewerOf(ctx), w.id);
        for (const { channel, membership } of rows) ctx.loaders.myMembership.prime(channel.id, membership);
        return rows.map((r) => r.channel);
      },
    }),
  }),
});

BotRef.implement({
  fields: (t) => ({
    id: t.id({ resolve: (b) => b.id.toString() }),
    name: t.exposeString('name'),
    scopes: t.field({ type: [BotScopeEnum], resolve: (b) => b.scopes as (typeof BOT_SCOPES)[number][] }),
    user: t.field({ type: UserRef, resolve: async (b, _a, ctx) => (await ctx.loaders.user.load(b.userId))! }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const BotCredentials = builder.objectRef<{ bot: Bot; token: string }>('BotCredentials').implement({
  fields: (t) => ({
    bot: t.field({ type: BotRef, resolve: (c) => c.bot }),
    token: t.exposeString('token', { description: 'Shown once; send it as Authorization: Bearer <token>' }),
  }),
});

const BotTokenRef = builder.objectRef<Token>('BotToken').implement({
  description: "One of a bot's tokens (the secret itself is shown only when issued)",
  fields: (t) => ({
    id: t.id({ resolve: (k) => k.id.toString(), description: 'Pass to revokeBotToken' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was issued' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it stops working by itself (null: never)',
    }),
    revokedAt: t.expose('revokedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it was revoked or rotated away (null: not revoked)',
    }),
    active: t.boolean({
      description: 'Neither revoked nor expired',
      resolve: (k) => !k.revokedAt && !(k.expiresAt && k.expiresAt.getTime() <= Date.now()),
    }),
  }),
});

builder.queryFields((t) => ({
  botTokens: t.field({
    type: [BotTokenRef],
    description: "A bot's tokens, newest first (owners and admins of its workspace)",
    args: { botId: t.arg.id({ required: true, description: 'The bot (Bot.id)' }) },
    resolve: (_r, args, ctx) => ctx.services.bots.botTokens(viewerOf(ctx), idArg(args.botId, 'botId')),
  }),
  workspace: t.field({
    type: WorkspaceRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) =>
      (await ctx.services.workspaces.accessWorkspace(viewerOf(ctx), idArg(args.id, 'id'))).workspace,
  }),
}));

builder.mutationFields((t) => ({
  createWorkspace: t.field({
    type: WorkspaceRef,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.workspaces.createWorkspace(viewerOf(ctx), args.name),
  }),
  joinWorkspace: t.field({
    type: WorkspaceRef,
    args: { inviteCode: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.workspaces.joinWorkspace(viewerOf(ctx), args.inviteCode),
  }),
  createBot: t.field({
    type: BotCredentials,
    args: {
      workspaceId: t.arg.id({ required: true }),
      name: t.arg.string({ required: true }),
      scopes: t.arg({ type: [BotScopeEnum], required: true }),
      expiresInDays: t.arg.int({
        description: 'Days until the token expires by itself (1-3650); omitted: it does not expire',
      }),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.workspaces.createBot(
        viewerOf(ctx),
        idArg(args.workspaceId, 'workspaceId'),
        args.name,
        args.scopes,
        args.expiresInDays,
      ),
  }),
  rotateBotToken: t.field({
    type: BotCredentials,
    description: 'Issues a new token for the bot (shown once) and revokes its other tokens (owners and admins)',
    args: {
      botId: t.arg.id({ required: true, description: 'The bot (Bot.id)' }),
      expiresInDays: t.arg.int({
        description: 'Days until the new token expires by itself (1-3650); omitted: it does not expire',
      }),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.bots.rotateBotToken(viewerOf(ctx), idArg(args.botId, 'botId'), args.expiresInDays),
  }),
  revokeBotToken: t.boolean({
    description:
      'Revokes one bot token (owners and admins); every gateway refuses it within a second. False when already revoked',
    args: { tokenId: t.arg.id({ required: true, description: 'BotToken.id' }) },
    resolve: (_r, args, ctx) => ctx.services.bots.revokeBotToken(viewerOf(ctx), idArg(args.tokenId, 'tokenId')),
  }),
}));
