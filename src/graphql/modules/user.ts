import { builder } from '../builder.js';
import { UserRef } from '../refs.js';
import { connectionType, personalViewer, toConnection, viewerOf } from './common.js';
import { idArg, idArgs } from '../../domain/validate.js';

UserRef.implement({
  description: 'A person or a bot',
  fields: (t) => ({
    id: t.id({ resolve: (u) => u.id.toString() }),
    name: t.exposeString('name'),
    email: t.string({
      nullable: true,
      description: 'Visible to the user themself only',
      resolve: (u, _a, ctx) => (personalViewer(ctx)?.userId === u.id ? u.email : null),
    }),
    isBot: t.exposeBoolean('isBot'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const UserConnection = connectionType('User', UserRef);

builder.queryFields((t) => ({
  workspaceMembers: t.field({
    type: UserConnection,
    description:
      'The workspace directory, loaded lazily: members by name (case-insensitive), those whose name or a word of it starts with query. Cursors are opaque',
    args: {
      workspaceId: t.arg.id({ required: true }),
      query: t.arg.string({ description: 'A prefix of the name or of a word in it; empty for everyone' }),
      first: t.arg.int({ description: 'Page size, 1 to 100; default 50' }),
      after: t.arg.string({ description: 'pageInfo.endCursor of the previous page' }),
    },
    resolve: async (_r, args, ctx) => {
      const page = await ctx.services.channels.workspaceMembers(
        viewerOf(ctx),
        idArg(args.workspaceId, 'workspaceId'),
        args,
      );
      return toConnection(page, page.cursorOf);
    },
  }),
  me: t.field({
    type: UserRef,
    resolve: (_r, _a, ctx) => ctx.services.users.me(viewerOf(ctx)),
  }),
  users: t.field({
    type: [UserRef],
    nullable: { list: false, items: true },
    description: 'Users by id, in the order asked; null where unknown or not visible to you',
    args: { ids: t.arg.idList({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const viewer = viewerOf(ctx);
      const ids = args.ids.length ? idArgs(args.ids, 'ids') : [];
      const visible = await ctx.services.users.visibleUsers(viewer, ids);
      const byId = new Map(visible.filter((u) => u !== null).map((u) => [u.id.toString(), u]));
      return args.ids.map((raw) => byId.get(raw) ?? null);
    },
  }),
}));
