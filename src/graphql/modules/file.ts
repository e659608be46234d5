import { GraphQLError } from 'graphql';
import { builder } from '../builder.js';
import { FileRef } from '../refs.js';
import { viewerOf } from './common.js';
import { idArg } from '../../domain/validate.js';
import { badInput, isDomainError } from '../../domain/errors.js';
import { THUMBNAIL_SIZES } from '../../domain/files/files.service.js';

export const FileStatusEnum = builder.enumType('FileStatus', {
  description: 'PENDING: bytes not yet uploaded and checked; READY: usable in messages',
  values: ['PENDING', 'READY'] as const,
});

export const FilePreviewStatusEnum = builder.enumType('FilePreviewStatus', {
  description: 'Thumbnails and snippets are made in the background; FAILED files are still plain attachments',
  values: ['PENDING', 'READY', 'FAILED'] as const,
});

const notAFilePart = () =>
  new GraphQLError('File must be a file part of a multipart request', { extensions: { code: 'BAD_USER_INPUT' } });

builder.scalarType('File', {
  description: 'A file sent with the GraphQL multipart request spec (input only)',
  serialize: () => {
    throw new GraphQLError('File is an input-only scalar');
  },
  // The gateway (gateway/uploads.ts) streams file parts into the store before execution and puts
  // `{ stagedUpload: <ref> }` in their place; the ref only means something in its own request.
  parseValue: (value) => {
    const ref = (value as { stagedUpload?: unknown } | null)?.stagedUpload;
    if (typeof ref === 'string') return { stagedUpload: ref };
    throw notAFilePart();
  },
  parseLiteral: () => {
    throw notAFilePart();
  },
});

const HttpHeaderRef = builder.objectRef<{ name: string; value: string }>('HttpHeader').implement({
  description: 'A header the client must send with a presigned request',
  fields: (t) => ({ name: t.exposeString('name'), value: t.exposeString('value') }),
});

interface PresignedUploadShape {
  fileId: bigint;
  url: string;
  method: string;
  headers: Record<string, string>;
  expiresAt: Date;
}

const PresignedUploadRef = builder.objectRef<PresignedUploadShape>('PresignedUpload').implement({
  description:
    'Where to PUT the bytes of a direct upload: send exactly the declared size with these headers before expiresAt, then call completeUpload(fileId)',
  fields: (t) => ({
    fileId: t.id({ description: 'The pending file', resolve: (u) => u.fileId.toString() }),
    url: t.exposeString('url', { description: 'The presigned URL (our /files/blob route, or the bucket)' }),
    method: t.exposeString('method', { description: 'Always PUT' }),
    headers: t.field({
      type: [HttpHeaderRef],
      description: 'Headers to send as given (content-type)',
      resolve: (u) => Object.entries(u.headers).map(([name, value]) => ({ name, value })),
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'The URL stops working then' }),
  }),
});

FileRef.implement({
  description:
    'A file shared in a channel. Visible to its uploader, and to whoever may read a message that carries it.',
  fields: (t) => ({
    id: t.id({ resolve: (f) => f.id.toString() }),
    name: t.exposeString('name', { description: 'The file name as uploaded, cleaned of paths and control characters' }),
    mimeType: t.exposeString('mimeType', { description: 'Same as contentType' }),
    contentType: t.exposeString('mimeType', { description: 'The type found by content sniffing' }),
    size: t.float({ resolve: (f) => Number(f.size) }),
    status: t.field({ type: FileStatusEnum, resolve: (f) => f.status }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    previewStatus: t.field({
      type: FilePreviewStatusEnum,
      description: 'Whether thumbnails, dimensions and the text snippet are ready',
      resolve: (f) => f.previewStatus,
    }),
    width: t.int({
      nullable: true,
      description: 'Image width in pixels (after EXIF rotation)',
      resolve: (f) => f.width,
    }),
    height: t.int({ nullable: true, description: 'Image height in pixels', resolve: (f) => f.height }),
    durationMs: t.int({ nullable: true, description: 'Audio/video duration when known', resolve: (f) => f.durationMs }),
    textSnippet: t.string({
      nullable: true,
      description: 'The first characters of a text file',
      resolve: (f) => f.textSnippet,
    }),
    url: t.string({
      nullable: true,
      description:
        'A short-lived download URL (FILE_URL_TTL_S, 5 minutes by default); null until READY. Ask again for a fresh one.',
      resolve: async (f, _a, ctx) => (await ctx.services.files.downloadUrl(viewerOf(ctx), f))?.url ?? null,
    }),
    thumbnailUrl: t.string({
      nullable: true,
      description: `A short-lived URL of a WebP thumbnail at most \`size\` px wide (${THUMBNAIL_SIZES.join(' or ')}); null while there is none`,
      args: { size: t.arg.int({ required: false, defaultValue: 360, description: 'Thumbnail width' }) },
      resolve: async (f, args, ctx) => {
        const size = args.size ?? 360;
        if (!(THUMBNAIL_SIZES as readonly number[]).includes(size))
          throw badInput('file/bad_thumbnail_size', `size is one of ${THUMBNAIL_SIZES.join(', ')}`, { field: 'size' });
        return (await ctx.services.files.downloadUrl(viewerOf(ctx), f, size))?.url ?? null;
      },
    }),
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

const CreateUploadInput = builder.inputType('CreateUploadInput', {
  description: 'A direct upload: declare the file, then PUT its bytes to the returned URL',
  fields: (t) => ({
    channelId: t.id({ required: true, description: 'The channel the file will be sent to' }),
    name: t.string({ required: true, description: 'The file name (at most 255 characters)' }),
    size: t.float({ required: true, description: 'Exact size in bytes (at most FILE_MAX_BYTES)' }),
    contentType: t.string({ required: true, description: 'The declared MIME type; checked against the content' }),
  }),
});

builder.mutationFields((t) => ({
  uploadFile: t.field({
    type: FileRef,
    description:
      'Uploads a file in one request (GraphQL multipart request spec; send the x-graphql-yoga-csrf header). The file is checked and READY on return; send it with sendMessage(fileIds).',
    args: {
      channelId: t.arg.id({ required: true, description: 'The channel the file will be sent to' }),
      file: t.arg({ type: 'File', required: true, description: 'The file part' }),
    },
    resolve: (_r, args, ctx) => {
      const viewer = viewerOf(ctx);
      const channelId = idArg(args.channelId, 'channelId');
      const staged = ctx.uploads?.claim(args.file.stagedUpload);
      if (!staged) throw notAFilePart();
      return ctx.services.files.uploadFile(viewer, channelId, staged);
    },
  }),
  createUpload: t.field({
    type: PresignedUploadRef,
    description: 'Starts a direct upload: a PENDING file and a presigned PUT URL (expires after FILE_UPLOAD_TTL_S)',
    args: { input: t.arg({ type: CreateUploadInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const { file, upload } = await ctx.services.files.createUpload(viewerOf(ctx), {
        channelId: idArg(input.channelId, 'channelId'),
        name: input.name,
        size: input.size,
        contentType: input.contentType,
      });
      return {
        fileId: file.id,
        url: upload.url,
        method: upload.method,
        headers: upload.headers,
        expiresAt: upload.expiresAt,
      };
    },
  }),
  completeUpload: t.field({
    type: FileRef,
    description:
      'Finishes a direct upload: the stored size must equal the declared one and the content must match its type; then READY',
    args: { fileId: t.arg.id({ required: true, description: 'PresignedUpload.fileId' }) },
    resolve: (_r, args, ctx) => ctx.services.files.completeUpload(viewerOf(ctx), idArg(args.fileId, 'fileId')),
  }),
}));
