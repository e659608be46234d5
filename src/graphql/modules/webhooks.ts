import { builder } from '../builder.js';
import { viewerOf } from './common.js';
import { idArg } from '../../domain/validate.js';
import type { IncomingWebhook } from '../../domain/webhooks/incoming.service.js';
import type { EventSubscription } from '../../domain/webhooks/outgoing.service.js';

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

const EventKindEnum = builder.enumType('EventKind', {
  description: 'Kinds of outgoing events a bot can subscribe to',
  values: {
    MESSAGE_POSTED: { description: 'A message was posted in a channel the bot is a member of' },
    BOT_MENTIONED: {
      description: 'A message mentioning the bot was posted (sent instead of MESSAGE_POSTED for that message)',
    },
    REACTION_ADDED: {
      description: 'Someone (not the bot) added a reaction to a message in a channel the bot is a member of',
    },
    MEMBER_JOINED: {
      description: 'Someone joined or was added to a channel the bot is a member of (the bot itself included)',
    },
  } as const,
});

const EventSubscriptionRef = builder.objectRef<EventSubscription>('EventSubscription').implement({
  description:
    'Signed deliveries of events to a bot\'s callback URL: POST JSON with headers X-Chat-Event-Id, X-Chat-Timestamp and X-Chat-Signature (v1=hex HMAC-SHA256 of "<timestamp>.<body>" with the secret)',
  fields: (t) => ({
    id: t.id({ resolve: (s) => s.id.toString(), description: 'Pass to deleteEventSubscription' }),
    url: t.string({ resolve: (s) => s.url, description: 'The callback URL' }),
    kinds: t.field({ type: [EventKindEnum], resolve: (s) => s.kinds, description: 'What is delivered' }),
    secret: t.string({
      resolve: (s) => s.secret,
      description: "The signing secret (owners and admins of the bot's workspace see it)",
    }),
    failures: t.int({ resolve: (s) => s.failures, description: 'Deliveries failed in a row' }),
    lastError: t.string({ nullable: true, resolve: (s) => s.lastError, description: 'The last failure, if any' }),
    disabledAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (s) => s.disabledAt,
      description: 'Set when repeated failures disabled it (WEBHOOK_MAX_FAILURES); nothing is delivered after',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt, description: 'When it was made' }),
  }),
});

const EventSubscriptionInput = builder.inputType('EventSubscriptionInput', {
  description: 'A bot subscribing to events',
  fields: (t) => ({
    botId: t.id({ required: true, description: 'The bot (Bot.id)' }),
    url: t.string({
      required: true,
      description: 'http(s) callback URL; private and loopback addresses are refused in production',
    }),
    kinds: t.field({ type: [EventKindEnum], required: true, description: 'Event kinds to deliver' }),
  }),
});

builder.queryFields((t) => ({
  eventSubscriptions: t.field({
    type: [EventSubscriptionRef],
    description: "A bot's event subscriptions (owners and admins of its workspace)",
    args: { botId: t.arg.id({ required: true, description: 'The bot (Bot.id)' }) },
    resolve: (_r, args, ctx) =>
      ctx.services.eventSubscriptions.eventSubscriptions(viewerOf(ctx), idArg(args.botId, 'botId')),
  }),
}));

builder.mutationFields((t) => ({
  createEventSubscription: t.field({
    type: EventSubscriptionRef,
    description: 'Subscribes a bot to events delivered to a callback URL, signed (owners and admins)',
    args: { input: t.arg({ type: EventSubscriptionInput, required: true, description: 'What and where' }) },
    resolve: (_r, { input }, ctx) =>
      ctx.services.eventSubscriptions.createEventSubscription(viewerOf(ctx), {
        botId: idArg(input.botId, 'botId'),
        url: input.url,
        kinds: input.kinds,
      }),
  }),
  deleteEventSubscription: t.boolean({
    description: 'Deletes an event subscription (owners and admins)',
    args: { id: t.arg.id({ required: true, description: 'EventSubscription.id' }) },
    resolve: (_r, args, ctx) =>
      ctx.services.eventSubscriptions.deleteEventSubscription(viewerOf(ctx), idArg(args.id, 'id')),
  }),
}));
