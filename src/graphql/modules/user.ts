import { builder } from '../builder.js';
import { UserRef } from '../refs.js';
import { connectionArgs, connectionType, personalViewer, toConnection, viewerOf } from './common.js';
import { idArg, idArgs } from '../../domain/validate.js';
import { badInput } from '../../domain/errors.js';
import { THUMBNAIL_SIZES } from '../../domain/files/files.service.js';

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
    handle: t.exposeString('handle', {
      description:
        'Unique, lower-case, without the @ (search with from:@handle; mention autocomplete matches it). Change it with updateProfile',
    }),
    statusText: t.exposeString('statusText', { description: 'A short status ("In a meeting"); empty when none' }),
    statusEmoji: t.exposeString('statusEmoji', {
      description: 'The status emoji (a Unicode emoji or a shortcode name); empty when none',
    }),
    timeZone: t.exposeString('timeZone', {
      nullable: true,
      description: 'An IANA time zone name (Europe/Paris); null when not set',
    }),
    avatarUrl: t.string({
      nullable: true,
      description: `A short-lived URL of the avatar image (FILE_URL_TTL_S, like other file URLs), or of its WebP thumbnail at most \`size\` px wide (${THUMBNAIL_SIZES.join(' or ')}); null when there is none (yet)`,
      args: { size: t.arg.int({ description: 'A thumbnail width; omitted: the image as uploaded' }) },
      resolve: async (u, args, ctx) => {
        const size = args.size ?? undefined;
        if (size !== undefined && !(THUMBNAIL_SIZES as readonly number[]).includes(size))
          throw badInput('file/bad_thumbnail_size', `size is one of ${THUMBNAIL_SIZES.join(', ')}`, { field: 'size' });
        return (await ctx.services.files.avatarUrl(u, size))?.url ?? null;
      },
    }),
  }),
});

const UpdateProfileInput = builder.inputType('UpdateProfileInput', {
  description: 'The profile fields to change; a field left out (or null) stays as it is',
  fields: (t) => ({
    displayName: t.string({ description: 'The name shown to others (1 to 80 characters)' }),
    handle: t.string({
      description:
        "2 to 32 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (upper case is lowered, a leading @ dropped); unique (CONFLICT when taken); here, channel, everyone and me are reserved",
    }),
    statusText: t.string({ description: 'At most 100 characters; empty clears it' }),
    statusEmoji: t.string({ description: 'One emoji or a :shortcode:; empty clears it' }),
    timeZone: t.string({ description: 'An IANA time zone name (Europe/Paris, UTC); empty clears it' }),
    avatarFileId: t.id({
      description: 'A READY image file you uploaded (createUpload/completeUpload or uploadFile); empty clears it',
    }),
  }),
});

export const UserConnection = connectionType('User', UserRef);

builder.mutationFields((t) => ({
  updateProfile: t.field({
    type: UserRef,
    description:
      'Changes your profile (people only, not bots). Everyone sees the change at once, on every gateway: cached copies are dropped everywhere',
    args: { input: t.arg({ type: UpdateProfileInput, required: true, description: 'The fields to change' }) },
    resolve: (_r, args, ctx) => ctx.services.users.updateProfile(viewerOf(ctx), args.input),
  }),
}));

builder.queryFields((t) => ({
  workspaceMembers: t.field({
    type: UserConnection,
    description:
      'The workspace directory, loaded lazily (and mention autocomplete): members by name (case-insensitive, then by id), those whose handle, name or a word of the name starts with query, as a Relay connection: first and after: pageInfo.endCursor page forward, last and before: pageInfo.startCursor backward. Cursors are opaque',
    args: {
      workspaceId: t.arg.id({ required: true }),
      query: t.arg.string({
        description:
          'A prefix of the handle, of the name or of a word in it (a leading @ is ignored); empty for everyone',
      }),
      ...connectionArgs('member'),
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
