import { builder } from '../builder.js';
import { viewerOf } from './common.js';
import { idArg } from '../../domain/validate.js';
import type { IncomingWebhook } from '../../domain/webhooks/incoming.service.js';

const IncomingWebhookRef = builder.objectRef<{ hook: IncomingWebhook; path: string }>('IncomingWebhook').implement({
  description: 'A secret URL that posts into one channel as the hook\'s own bot (POST JSON {"text": "..."})',
  fields: (t) => ({
    id: t.id({ resolve: (w) => w.hook.id.toString(), description: 'Pass to revokeIncomingWebhook' }),
    name: t.string({ resolve: (w) => w.hook.name, description: 'Also the name its messages are posted under' }),
    channelId: t.id({ resolve: (w) => w.hook.channelId.toString(), description: 'Where it posts' }),
    botUserId: t.id({ resolve: (w) => w.hook.botUserId.toString(), description: "The hook's bot user (the author)" }),
    url: t.string({
      resolve: (w) => w.path,
      description:
        'Path on this server, shown once: POST <server origin><url> with JSON {"text": "..."}; an Idempotency-Key header makes retries safe. Keep it secret',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (w) => w.hook.createdAt, description: 'When it was created' }),
  }),
});

builder.mutationFields((t) => ({
  createIncomingWebhook: t.field({
    type: IncomingWebhookRef,
    description: 'Creates an incoming webhook for a channel you are a member of (workspace owners and admins)',
    args: {
      channelId: t.arg.id({ required: true, description: 'The channel it posts into' }),
      name: t.arg.string({ required: true, description: 'Shown as the author of its messages' }),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.incomingWebhooks.createIncomingWebhook(viewerOf(ctx), idArg(args.channelId, 'channelId'), args.name),
  }),
  revokeIncomingWebhook: t.boolean({
    description: 'Revokes an incoming webhook: its URL answers 404 from then on. False when already revoked',
    args: { id: t.arg.id({ required: true, description: 'IncomingWebhook.id' }) },
    resolve: (_r, args, ctx) =>
      ctx.services.incomingWebhooks.revokeIncomingWebhook(viewerOf(ctx), idArg(args.id, 'id')),
  }),
}));
