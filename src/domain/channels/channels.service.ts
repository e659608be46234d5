/** Channels: the service (creating channels, topics) composed with access, membership, DMs and browsing. */
import type { ServiceDeps } from '../deps.js';
import { badInput, conflict } from '../errors.js';
import { withTx, isUniqueViolation } from '../../infra/db/tx.js';
import { requireScope, type Viewer } from '../viewer.js';
import { nameArg } from '../validate.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import { createChannelAccess } from './channels.access.js';
import { createChannelBrowsing } from './channels.browse.js';
import { createDirectMessages } from './channels.dm.js';
import { announce, createMembershipMutations } from './channels.membership.js';
import { createChannelCache } from './channel-cache.js';

export type { ChannelAccess } from './channels.access.js';

/** Slack's rule for channel names: lower case letters, digits, hyphens and underscores, up to 80. */
const CHANNEL_NAME = /^[\p{Ll}\p{Lo}\p{N}_-]{1,80}$/u;

export function createChannelsService(deps: ServiceDeps, workspaces: WorkspacesService) {
  const { prisma, ids, events } = deps;
  /** Newest pages and read access per channel, kept current by the channel's events (channel-cache.ts). */
  const cache = createChannelCache(deps.channelFeed ?? null, {
    maxBytes: 64 * 1024 * 1024,
    maxChannels: 5_000,
    readerTtlMs: 60_000,
    maxMembers: 100_000,
    ...deps.readCache,
  });
  const access = createChannelAccess(prisma, deps.rawQuery, cache);
  const { accessChannel, accessMembership, requireReadable } = access;
  const { joinChannel, leaveChannel, removeFromChannel, inviteToChannel, setNotificationLevel } =
    createMembershipMutations(deps, access, workspaces);
  const { openDirectMessage } = createDirectMessages(deps, workspaces);
  const { browse, myMemberships, members, workspaceMembers } = createChannelBrowsing(deps, workspaces, access);

  return {
    accessChannel,
    accessMembership,
    requireReadable,
    cache,

    async createChannel(
      viewer: Viewer,
      input: { workspaceId: bigint; name: string; private?: boolean | null; topic?: string | null },
    ) {
      requireScope(viewer, 'CHANNELS_WRITE');
      await workspaces.accessWorkspace(viewer, input.workspaceId);
      const name = nameArg(input.name, 'name', 80).replace(/^#/, '').toLowerCase();
      if (!CHANNEL_NAME.test(name)) {
        throw badInput('channel/bad_name', 'channel names use lower-case letters, digits, - and _ (at most 80)', {
          field: 'name',
        });
      }
      const topic = (input.topic ?? '').trim();
      if ([...topic].length > 250)
        throw badInput('channel/topic_too_long', 'topic must be at most 250 characters', { field: 'topic' });
      const id = ids.next();
      try {
        const channel = await withTx(prisma, (tx) =>
          tx.channel.create({
            data: {
              id,
              workspaceId: input.workspaceId,
              kind: input.private ? 'PRIVATE' : 'PUBLIC',
              name,
              topic,
              createdById: viewer.userId,
              memberCount: 1,
              members: { create: { userId: viewer.userId } },
            },
          }),
        );
        announce(events, channel.id, [viewer.userId], true);
        return channel;
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict('channel/name_taken', `a channel named ${name} already exists`);
        throw err;
      }
    },

    async setTopic(viewer: Viewer, channelId: bigint, topicInput: string) {
      const { channel } = await accessMembership(viewer, channelId);
      const topic = topicInput.trim();
      if ([...topic].length > 250)
        throw badInput('channel/topic_too_long', 'topic must be at most 250 characters', { field: 'topic' });
      return prisma.channel.update({ where: { id: channel.id }, data: { topic } });
    },

    joinChannel,
    leaveChannel,
    removeFromChannel,
    inviteToChannel,
    openDirectMessage,
    browse,
    workspaceMembers,
    myMemberships,
    members,
    setNotificationLevel,
  };
}

export type ChannelsService = ReturnType<typeof createChannelsService>;
