import { builder } from '../builder.js';
import { FileRef } from '../refs.js';
import { viewerOf } from './common.js';
import { idArg } from '../../domain/validate.js';
import { isDomainError } from '../../domain/errors.js';

export const FileStatusEnum = builder.enumType('FileStatus', { values: ['PENDING', 'READY'] as const });

FileRef.implement({
  description: 'A file shared in a channel. Uploads and download URLs arrive with the files work.',
  fields: (t) => ({
    id: t.id({ resolve: (f) => f.id.toString() }),
    name: t.exposeString('name'),
    mimeType: t.exposeString('mimeType'),
    size: t.float({ resolve: (f) => Number(f.size) }),
    status: t.field({ type: FileStatusEnum, resolve: (f) => f.status }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  file: t.field({
    type: FileRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    description: 'A file you may read; null when it does not exist or is hidden from you',
    resolve: async (_r, args, ctx) => {
      try {
        return await ctx.services.files.accessFile(viewerOf(ctx), idArg(args.id, 'id'));
      } catch (err) {
        if (isDomainError(err) && err.code === 'NOT_FOUND') return null;
        throw err;
      }
    },
  }),
}));
