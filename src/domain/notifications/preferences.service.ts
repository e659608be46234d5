import type { ServiceDeps } from '../deps.js';
import { badInput, notFound } from '../errors.js';
import { requireHuman, type Viewer } from '../viewer.js';
import type { ChannelsService } from '../channels/channels.service.js';
import type { NotificationLevel, PushPlatform } from '../../generated/prisma/client.js';
import { charLength } from '../validate.js';
import { DEFAULT_PREFS, isTimeZone } from './notify-rule.js';

/** A user's notification preferences as stored (or the defaults when never set). */
export interface Preferences {
  pushLevel: NotificationLevel;
  emailAfterMinutes: number | null;
  dndStartMinute: number | null;
  dndEndMinute: number | null;
  snoozeUntil: Date | null;
  timeZone: string;
}

export interface PreferencesInput {
  pushLevel?: NotificationLevel | null;
  /** Set a number to turn the digest on; `emailNever` turns it off. */
  emailAfterMinutes?: number | null;
  emailNever?: boolean | null;
  dndStartMinute?: number | null;
  dndEndMinute?: number | null;
  clearDnd?: boolean | null;
  snoozeUntil?: Date | null;
  clearSnooze?: boolean | null;
  timeZone?: string | null;
}

export interface DeviceInput {
  platform: PushPlatform;
  /** Web Push: the subscription's endpoint URL; FCM: the registration token; APNs: the device token (hex). */
  token: string;
  p256dh?: string | null;
  auth?: string | null;
}

const MAX_EMAIL_MINUTES = 7 * 24 * 60;
const MAX_DEVICES_PER_USER = 20;

function minuteArg(v: number, field: string) {
  if (!Number.isInteger(v) || v < 0 || v > 1439)
    throw badInput('notify/bad_minute', `${field} must be a minute of the day (0-1439)`, { field });
  return v;
}

/** Preferences per user and per channel, and the push devices a user registered. */
export function createPreferencesService(deps: ServiceDeps, channels: ChannelsService) {
  const { prisma, ids } = deps;

  async function get(viewer: Viewer): Promise<Preferences> {
    const row = await prisma.notificationPreference.findUnique({ where: { userId: viewer.userId } });
    return row ?? { ...DEFAULT_PREFS, snoozeUntil: null };
  }

  return {
    get,

    /** Changes the given fields; the rest stay. */
    async update(viewer: Viewer, input: PreferencesInput): Promise<Preferences> {
      requireHuman(viewer, 'have notification preferences');
      const data: Partial<Preferences> = {};
      if (input.pushLevel) data.pushLevel = input.pushLevel;
      if (input.emailNever && input.emailAfterMinutes !== null && input.emailAfterMinutes !== undefined)
        throw badInput('notify/conflicting_email', 'give emailAfterMinutes or emailNever, not both', {
          field: 'emailAfterMinutes',
        });
      if (input.emailNever) data.emailAfterMinutes = null;
      if (input.emailAfterMinutes !== null && input.emailAfterMinutes !== undefined) {
        const m = input.emailAfterMinutes;
        if (!Number.isInteger(m) || m < 1 || m > MAX_EMAIL_MINUTES)
          throw badInput('notify/bad_email_delay', `emailAfterMinutes must be between 1 and ${MAX_EMAIL_MINUTES}`, {
            field: 'emailAfterMinutes',
          });
        data.emailAfterMinutes = m;
      }
      const hasStart = input.dndStartMinute !== null && input.dndStartMinute !== undefined;
      const hasEnd = input.dndEndMinute !== null && input.dndEndMinute !== undefined;
      if (hasStart !== hasEnd)
        throw badInput('notify/half_dnd', 'dndStartMinute and dndEndMinute are set together', {
          field: hasStart ? 'dndEndMinute' : 'dndStartMinute',
        });
      if (hasStart && input.clearDnd)
        throw badInput('notify/conflicting_dnd', 'give a DND schedule or clearDnd, not both', { field: 'clearDnd' });
      if (hasStart) {
        data.dndStartMinute = minuteArg(input.dndStartMinute!, 'dndStartMinute');
        data.dndEndMinute = minuteArg(input.dndEndMinute!, 'dndEndMinute');
      }
      if (input.clearDnd) data.dndStartMinute = data.dndEndMinute = null;
      if (input.snoozeUntil && input.clearSnooze)
        throw badInput('notify/conflicting_snooze', 'give snoozeUntil or clearSnooze, not both', {
          field: 'clearSnooze',
        });
      if (input.snoozeUntil) {
        if (Number.isNaN(input.snoozeUntil.getTime()))
          throw badInput('notify/bad_snooze', 'snoozeUntil is not a valid time', { field: 'snoozeUntil' });
        data.snoozeUntil = input.snoozeUntil;
      }
      if (input.clearSnooze) data.snoozeUntil = null;
      if (input.timeZone !== null && input.timeZone !== undefined) {
        if (charLength(input.timeZone) > 64 || !isTimeZone(input.timeZone))
          throw badInput('notify/bad_time_zone', 'timeZone must be an IANA time zone such as Europe/Berlin', {
            field: 'timeZone',
          });
        data.timeZone = input.timeZone;
      }
      return prisma.notificationPreference.upsert({
        where: { userId: viewer.userId },
        create: { userId: viewer.userId, ...data },
        update: { ...data, updatedAt: new Date() },
      });
    },

    /** The channel's push override for the viewer (null: their default); the viewer must be a member. */
    async setChannelPushLevel(viewer: Viewer, channelId: bigint, level: NotificationLevel | null) {
      requireHuman(viewer, 'have notification preferences');
      await channels.accessMembership(viewer, channelId);
      await prisma.channelMember.update({
        where: { channelId_userId: { channelId, userId: viewer.userId } },
        data: { pushLevel: level },
      });
      return prisma.channel.findUniqueOrThrow({ where: { id: channelId } });
    },

    /** Registers a push target for the viewer (a device registered by another account moves to this one). */
    async registerDevice(viewer: Viewer, d: DeviceInput) {
      requireHuman(viewer, 'register push devices');
      const token = d.token.trim();
      if (token.length === 0 || token.length > 2048)
        throw badInput('push/bad_token', 'token must be 1-2048 characters', { field: 'token' });
      if (d.platform === 'WEB_PUSH') {
        const url = URL.canParse(token) ? new URL(token) : null;
        if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:'))
          throw badInput('push/bad_endpoint', 'a Web Push subscription needs its endpoint URL as token', {
            field: 'token',
          });
        if (!d.p256dh || !d.auth || d.p256dh.length > 200 || d.auth.length > 100)
          throw badInput('push/missing_keys', 'a Web Push subscription needs its p256dh and auth keys', {
            field: d.p256dh ? 'auth' : 'p256dh',
          });
      } else if (!/^[A-Za-z0-9:_\-.]+$/.test(token)) {
        throw badInput('push/bad_token', 'token has characters a device token cannot have', { field: 'token' });
      }
      const count = await prisma.pushDevice.count({ where: { userId: viewer.userId } });
      if (count >= MAX_DEVICES_PER_USER)
        throw badInput('push/too_many_devices', `at most ${MAX_DEVICES_PER_USER} push devices per user`, {
          field: 'token',
        });
      const keys = d.platform === 'WEB_PUSH' ? { p256dh: d.p256dh!, auth: d.auth! } : { p256dh: null, auth: null };
      return prisma.pushDevice.upsert({
        where: { platform_token: { platform: d.platform, token } },
        create: { id: ids.next(), userId: viewer.userId, platform: d.platform, token, ...keys },
        update: { userId: viewer.userId, ...keys },
      });
    },

    /** Removes one of the viewer's devices; another user's device id answers like a missing one. */
    async unregisterDevice(viewer: Viewer, id: bigint): Promise<boolean> {
      const r = await prisma.pushDevice.deleteMany({ where: { id, userId: viewer.userId } });
      if (r.count === 0) throw notFound('push_device', id);
      return true;
    },

    async devices(viewer: Viewer) {
      return prisma.pushDevice.findMany({ where: { userId: viewer.userId }, orderBy: { id: 'asc' } });
    },
  };
}

export type PreferencesService = ReturnType<typeof createPreferencesService>;
