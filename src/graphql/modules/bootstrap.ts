import { builder } from '../builder.js';
import { ChannelRef, UserRef, WorkspaceRef } from '../refs.js';
import { viewerOf } from './common.js';
import { dmMemberIds } from './channel.js';
import { PresenceRef } from './presence.js';
import type { Channel, User, Workspace } from '../../generated/prisma/client.js';

interface BootstrapShape {
  me: User;
  workspaces: Workspace[];
  channels: Channel[];
}

/** The ids of the people the DMs name, once each, in a stable order. */
const peopleOf = (b: BootstrapShape): string[] => [...new Set(b.channels.flatMap((c) => dmMemberIds(c).map(String)))];

const Bootstrap = builder.objectRef<BootstrapShape>('Bootstrap').implement({
  description: 'The working set for a first screen: no rosters, no directory (those are paged queries)',
  fields: (t) => ({
    me: t.field({ type: UserRef, resolve: (b) => b.me }),
    workspaces: t.field({ type: [WorkspaceRef], resolve: (b) => b.workspaces }),
    channels: t.field({
      type: [ChannelRef],
      description: 'Channels you are a member of, with unread and mention counts',
      resolve: (b) => b.channels.filter((c) => c.kind !== 'DIRECT'),
    }),
    people: t.field({
      type: [UserRef],
      description:
        'The people your direct messages name (their profiles, once each); everyone else is in workspaceMembers, lazily',
      resolve: async (b, _a, ctx) => {
        const users = await Promise.all(peopleOf(b).map((id) => ctx.loaders.user.load(BigInt(id))));
        return users.filter((u) => u !== null);
      },
    }),
    presence: t.field({
      type: [PresenceRef],
      description:
        'Presence of the people (the same users, in the same order), so the first screen shows who is online without another request; subscribe to presence(userIds) for changes',
      resolve: (b, _a, ctx) => ctx.realtime.presence.get(peopleOf(b)),
    }),
    directMessages: t.field({
      type: [ChannelRef],
      description: 'Direct messages, most recent activity first (ask for lastMessage for a preview)',
      resolve: (b) =>
        b.channels
          .filter((c) => c.kind === 'DIRECT')
          .sort((a, z) => Number((z.lastMessageId ?? z.id) - (a.lastMessageId ?? a.id))),
    }),
  }),
});

builder.queryFields((t) => ({
  bootstrap: t.field({
    type: Bootstrap,
    resolve: async (_r, _a, ctx) => {
      const viewer = viewerOf(ctx);
      const [me, workspaces, memberships] = await Promise.all([
        ctx.services.users.me(viewer),
        ctx.services.workspaces.workspacesOf(viewer),
        ctx.services.channels.myMemberships(viewer),
      ]);
      // The working set's own reads answer the per-channel and per-workspace fields (unread and
      // mention counts, myRole): no second read of the same rows, whatever the number of channels.
      for (const w of workspaces) ctx.loaders.myRole.prime(w.workspace.id, w.role);
      for (const { channel, membership } of memberships) {
        ctx.loaders.channel.prime(channel.id, channel);
        ctx.loaders.myMembership.prime(channel.id, membership);
      }
      return {
        me,
        workspaces: workspaces.map((w) => w.workspace),
        channels: memberships.map((m) => m.channel),
      };
    },
  }),
}));
