import { builder } from '../builder.js';
import { ChannelRef } from '../refs.js';
import { personalViewer, viewerOf } from './common.js';
import { NotificationLevelEnum } from './channel.js';
import { idArg } from '../../domain/validate.js';
import type { Preferences } from '../../domain/notifications/preferences.service.js';
import type { PushDevice } from '../../generated/prisma/client.js';

/** Notifications for people who are not looking: preferences, push devices. */

const PreferencesRef = builder.objectRef<Preferences>('NotificationPreferences').implement({
  description:
    'How you are notified when you are not looking (push, email). A push is never sent while you view the ' +
    'channel or thread on any connection, were active a moment ago, or are in do-not-disturb.',
  fields: (t) => ({
    pushLevel: t.field({
      type: NotificationLevelEnum,
      description:
        'Default push level: ALL (every message and followed-thread reply), MENTIONS (DMs, mentions, thread ' +
        'mentions; the default) or NONE. A channel can override it (Channel.pushLevel).',
      resolve: (p) => p.pushLevel,
    }),
    emailAfterMinutes: t.int({
      nullable: true,
      description:
        'Email a digest of unread mentions and DMs once you have been offline this many minutes; null: never.',
      resolve: (p) => p.emailAfterMinutes,
    }),
    dndStartMinute: t.int({
      nullable: true,
      description: 'Daily do-not-disturb start, in minutes after midnight in timeZone (null: no schedule).',
      resolve: (p) => p.dndStartMinute,
    }),
    dndEndMinute: t.int({
      nullable: true,
      description: 'Daily do-not-disturb end (exclusive); before the start means the schedule wraps past midnight.',
      resolve: (p) => p.dndEndMinute,
    }),
    snoozeUntil: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Notifications are paused until this time.',
      resolve: (p) => p.snoozeUntil,
    }),
    timeZone: t.exposeString('timeZone', { description: 'IANA time zone the DND schedule is read in.' }),
  }),
});

const PreferencesInput = builder.inputType('NotificationPreferencesInput', {
  description: 'Fields to change; the ones left out stay as they are.',
  fields: (t) => ({
    pushLevel: t.field({ type: NotificationLevelEnum, description: 'Default push level.' }),
    emailAfterMinutes: t.int({ description: 'Turn the email digest on: after this many minutes offline (1-10080).' }),
    emailNever: t.boolean({ description: 'Turn the email digest off.' }),
    dndStartMinute: t.int({
      description: 'Daily DND start, minutes after local midnight (0-1439); with dndEndMinute.',
    }),
    dndEndMinute: t.int({ description: 'Daily DND end, minutes after local midnight (0-1439); with dndStartMinute.' }),
    clearDnd: t.boolean({ description: 'Remove the daily DND schedule.' }),
    snoozeUntil: t.field({ type: 'DateTime', description: 'Pause notifications until this time.' }),
    clearSnooze: t.boolean({ description: 'End a snooze now.' }),
    timeZone: t.string({ description: 'IANA time zone, e.g. Europe/Berlin.' }),
  }),
});

const PushPlatformEnum = builder.enumType('PushPlatform', {
  description: 'Where a push goes: a browser (Web Push with VAPID), Android/FCM, or Apple/APNs.',
  values: ['WEB_PUSH', 'FCM', 'APNS'] as const,
});

const PushDeviceRef = builder.objectRef<PushDevice>('PushDevice').implement({
  description: 'A push target you registered.',
  fields: (t) => ({
    id: t.id({ resolve: (d) => d.id.toString() }),
    platform: t.field({ type: PushPlatformEnum, resolve: (d) => d.platform }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.objectField(ChannelRef, 'pushLevel', (t) =>
  t.field({
    type: NotificationLevelEnum,
    nullable: true,
    description: 'Your push override for this channel (null: your default NotificationPreferences.pushLevel).',
    resolve: async (c, _a, ctx) => {
      if (!personalViewer(ctx)) return null;
      return (await ctx.loaders.myMembership.load(c.id))?.pushLevel ?? null;
    },
  }),
);

builder.queryFields((t) => ({
  notificationPreferences: t.field({
    type: PreferencesRef,
    description: 'Your notification preferences (the defaults until you change them).',
    resolve: (_r, _a, ctx) => ctx.services.notifyPrefs.get(viewerOf(ctx)),
  }),
  pushDevices: t.field({
    type: [PushDeviceRef],
    description: 'The push targets you registered.',
    resolve: (_r, _a, ctx) => ctx.services.notifyPrefs.devices(viewerOf(ctx)),
  }),
}));

builder.mutationFields((t) => ({
  updateNotificationPreferences: t.field({
    type: PreferencesRef,
    description: 'Changes your notification preferences (push level, email digest, DND schedule, snooze, time zone).',
    args: { input: t.arg({ type: PreferencesInput, required: true }) },
    resolve: (_r, { input }, ctx) => ctx.services.notifyPrefs.update(viewerOf(ctx), input),
  }),
  setChannelPushLevel: t.field({
    type: ChannelRef,
    description: 'Overrides your push level for one channel you are a member of; null goes back to your default.',
    args: {
      channelId: t.arg.id({ required: true }),
      level: t.arg({ type: NotificationLevelEnum, description: 'The override, or null for your default.' }),
    },
    resolve: async (_r, args, ctx) => {
      const channelId = idArg(args.channelId, 'channelId');
      const channel = await ctx.services.notifyPrefs.setChannelPushLevel(viewerOf(ctx), channelId, args.level ?? null);
      ctx.loaders.myMembership.clear(channelId);
      return channel;
    },
  }),
  registerPushSubscription: t.field({
    type: PushDeviceRef,
    description:
      'Registers a push target: a browser Web Push subscription (token = its endpoint URL, with its p256dh and ' +
      'auth keys), an FCM registration token or an APNs device token. Registering the same target again updates it.',
    args: {
      platform: t.arg({ type: PushPlatformEnum, required: true }),
      token: t.arg.string({ required: true, description: 'Endpoint URL (Web Push) or device token (FCM, APNs).' }),
      p256dh: t.arg.string({ description: "Web Push: the subscription's P-256 public key (base64url)." }),
      auth: t.arg.string({ description: "Web Push: the subscription's auth secret (base64url)." }),
    },
    resolve: (_r, args, ctx) => ctx.services.notifyPrefs.registerDevice(viewerOf(ctx), args),
  }),
  unregisterPushSubscription: t.boolean({
    description: 'Removes one of your push targets (an id that is not yours is NOT_FOUND).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.notifyPrefs.unregisterDevice(viewerOf(ctx), idArg(args.id, 'id')),
  }),
}));
