/**
 * Files: two upload paths ending in a READY file, who may see a file, short-lived download URLs,
 * and the sweep of abandoned uploads and of deleted messages' files.
 *
 * Who may read a file (written once, in `accessFile`, and used by file(id), url, thumbnailUrl and
 * sendMessage): someone who may read its channel AND either uploaded it or may read a live message
 * that carries it. A file that was never sent is its uploader's alone. Everyone else gets
 * NOT_FOUND, the same answer as for an id that does not exist.
 *
 * Upload checks, the same on both paths: the channel must accept the viewer's messages; the size is
 * at most FILE_MAX_BYTES and within the workspace quota; the bytes in the store must be exactly the
 * declared size (direct uploads); the type is decided by content sniffing (file-policy.ts), images
 * may not exceed MAX_PIXELS, and only then is the file READY and a `file.ready` outbox event
 * written for the previews consumer.
 */
import { randomBytes } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import sharp from 'sharp';
import type { ServiceDeps } from '../deps.js';
import type { ChannelsService } from '../channels/channels.service.js';
import { requireScope, type Viewer } from '../viewer.js';
import type { File } from '../../generated/prisma/client.js';
import { badInput, DomainError, isDomainError, notFound, unavailable } from '../errors.js';
import { withTx } from '../../infra/db/tx.js';
import { createBatcher } from '../coalesce.js';
import type { Tx } from '../../infra/db/database.js';
import type { FileStore, PresignedRequest } from '../../infra/files/file-store.port.js';
import type { FilesConfig } from '../../config.js';
import {
  checkTypeAllowed,
  cleanFileName,
  contentDisposition,
  normalizeType,
  PREVIEWABLE_IMAGES,
  SNIFF_BYTES,
  sniff,
} from './file-policy.js';

/** Images larger than this (width × height) are refused at upload: pixel and decompression bombs. */
export const MAX_PIXELS = 100_000_000;
export const FILE_READY_KIND = 'file.ready';
export const THUMBNAIL_SIZES = [360, 720] as const;

/** Bytes read from a file's start for sniffing and the pixel check (SNIFF_BYTES is the part file-type reads). */
const HEAD_BYTES = Math.max(SNIFF_BYTES, 65_536);

/** A multipart file part already in the store, not yet a file of any channel (see stageUpload). */
export interface StagedUpload {
  /** The id the file will have. */
  readonly id: bigint;
  readonly storageKey: string;
  readonly uploaderId: bigint;
  /** As the client sent them. */
  readonly name: string;
  readonly type: string;
  /** Bytes stored. */
  readonly size: number;
  /** The first bytes (up to 64 KiB), kept while streaming for sniffing. */
  readonly head: Buffer;
}

export interface FilesDeps {
  store: FileStore;
  config: FilesConfig;
}

export const payloadTooLarge = (max: number) =>
  new DomainError('PAYLOAD_TOO_LARGE', 'file/too_large', `files are at most ${max} bytes`, { field: 'size', max });

export function createFilesService(deps: ServiceDeps, channels: ChannelsService) {
  const { prisma } = deps;
  const files = (): FilesDeps => {
    if (!deps.files) throw unavailable('file/no_store', 'file storage is not configured');
    return deps.files;
  };

  /** Loads a file the viewer may read; NOT_FOUND otherwise, like every access check. */
  async function accessFile(viewer: Viewer, fileId: bigint): Promise<File> {
    const file = await prisma.file.findUnique({ where: { id: fileId } });
    if (!file || file.deletedAt) throw notFound('file', fileId);
    try {
      await channels.accessChannel(viewer, file.channelId);
    } catch (err) {
      if (isDomainError(err) && err.code === 'NOT_FOUND') throw notFound('file', fileId);
      throw err;
    }
    if (file.uploaderId === viewer.userId) return file;
    // Someone else: only through a live message of this channel that carries it.
    const carried = await prisma.messageFile.findFirst({
      where: { fileId, message: { deletedAt: null, channelId: file.channelId } },
      select: { messageId: true },
    });
    if (!carried || file.status !== 'READY') throw notFound('file', fileId);
    return file;
  }

  /** The checks before any byte is accepted: membership, name, type lists, size and quota. */
  async function admit(viewer: Viewer, channelId: bigint, name: string, size: number | null, declared: string) {
    requireScope(viewer, 'CHAT_WRITE');
    const { config } = files();
    const { channel } = await channels.accessMembership(viewer, channelId);
    const cleanName = cleanFileName(name);
    const type = normalizeType(declared);
    checkTypeAllowed(type, config);
    if (size !== null) {
      if (!Number.isSafeInteger(size) || size < 0)
        throw badInput('file/bad_size', 'size must be a whole number of bytes', { field: 'size' });
      if (size > config.maxBytes) throw payloadTooLarge(config.maxBytes);
    }
    await checkQuota(channel.workspaceId, size ?? 0);
    return { channel, name: cleanName, type };
  }

  /**
   * The workspace quota counts stored bytes: the sizes of READY files, which were measured in the
   * store. A PENDING upload's declared size counts for nothing (it may never arrive); each upload
   * is checked when it is declared (an early refusal) and again with its stored size when it turns
   * READY (`finish`, under a lock on the workspace row, so concurrent uploads cannot both fit).
   */
  async function checkQuota(workspaceId: bigint, adding: number, db: Pick<Tx, '$queryRaw'> = prisma) {
    const quota = files().config.workspaceQuotaBytes;
    if (quota <= 0) return;
    const [row] = await db.$queryRaw<{ used: bigint | null }[]>`
      SELECT sum(size)::bigint AS used FROM files
      WHERE workspace_id = ${workspaceId} AND status = 'READY' AND deleted_at IS NULL`;
    if (Number(row?.used ?? 0) + adding > quota)
      throw new DomainError(
        'PAYLOAD_TOO_LARGE',
        'file/quota_exceeded',
        'the workspace has used its file storage quota',
        {
          quota,
        },
      );
  }

  const newKey = (fileId: bigint) =>
    `f/${fileId}/${randomBytes(9)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')}`;

  /**
   * Direct upload, step 1: a PENDING file and a presigned PUT for exactly `size` bytes of
   * `contentType`. The upload expires after FILE_UPLOAD_TTL_S; the sweep deletes it then.
   */
  async function createUpload(
    viewer: Viewer,
    input: { channelId: bigint; name: string; size: number; contentType: string },
  ): Promise<{ file: File; upload: PresignedRequest }> {
    const { channel, name, type } = await admit(viewer, input.channelId, input.name, input.size, input.contentType);
    const { store, config } = files();
    const id = deps.ids.next();
    const storageKey = newKey(id);
    const upload = await store.presignPut(storageKey, {
      contentType: type,
      size: input.size,
      expiresInS: config.uploadTtlS,
    });
    const file = await prisma.file.create({
      data: {
        id,
        workspaceId: channel.workspaceId,
        channelId: channel.id,
        uploaderId: viewer.userId,
        name,
        mimeType: type,
        size: BigInt(input.size),
        storageKey,
        status: 'PENDING',
        expiresAt: new Date(Date.now() + config.uploadTtlS * 1000),
      },
    });
    return { file, upload };
  }

  /** Direct upload, step 2: the stored bytes must match the declared size and their sniffed type. */
  async function completeUpload(viewer: Viewer, fileId: bigint): Promise<File> {
    requireScope(viewer, 'CHAT_WRITE');
    const file = await prisma.file.findUnique({ where: { id: fileId } });
    // Someone else's upload is answered like an unknown id.
    if (!file || file.uploaderId !== viewer.userId || file.deletedAt) throw notFound('file', fileId);
    if (file.status === 'READY') return file;
    if (file.expiresAt && file.expiresAt.getTime() < Date.now()) {
      await discard(file);
      throw badInput('file/upload_expired', 'the upload expired; create a new one', { field: 'fileId' });
    }
    await channels.accessMembership(viewer, file.channelId).catch((err: unknown) => {
      if (isDomainError(err) && err.code === 'NOT_FOUND') throw notFound('file', fileId);
      throw err;
    });
    const stat = await files().store.stat(file.storageKey);
    if (!stat) throw badInput('file/not_uploaded', 'no bytes were uploaded for this file yet', { field: 'fileId' });
    if (BigInt(stat.size) !== file.size) {
      await discard(file);
      throw badInput('file/size_mismatch', `the upload has ${stat.size} bytes, ${file.size} were declared`, {
        field: 'fileId',
      });
    }
    return finish(file, file.mimeType);
  }

  /**
   * GraphQL multipart upload, step 1 (the gateway, while it reads the request): the part is
   * streamed straight into the store, counted against FILE_MAX_BYTES as it arrives (stopped there,
   * nothing kept), with its first bytes kept for sniffing. No database row yet: the gateway deletes
   * a staged upload no resolver claims (`dropStaged`).
   */
  async function stageUpload(
    viewer: Viewer,
    part: { name: string; type: string; stream: Readable },
  ): Promise<StagedUpload> {
    requireScope(viewer, 'CHAT_WRITE');
    const { store, config } = files();
    // What can be refused before any byte is stored (the channel is checked when it is claimed).
    cleanFileName(part.name);
    const type = normalizeType(part.type);
    checkTypeAllowed(type, config);
    const id = deps.ids.next();
    const storageKey = newKey(id);
    let seen = 0;
    const head: Buffer[] = [];
    let headLength = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        seen += chunk.length;
        if (seen > config.maxBytes) return cb(payloadTooLarge(config.maxBytes));
        if (headLength < HEAD_BYTES) {
          const take = Buffer.from(chunk.subarray(0, HEAD_BYTES - headLength));
          head.push(take);
          headLength += take.length;
        }
        cb(null, chunk);
      },
    });
    part.stream.on('error', (err) => meter.destroy(err));
    let size: number;
    try {
      ({ size } = await store.put(storageKey, part.stream.pipe(meter), { contentType: type }));
    } catch (err) {
      await store.delete(storageKey).catch(() => {});
      throw err;
    }
    return { id, storageKey, uploaderId: viewer.userId, name: part.name, type, size, head: Buffer.concat(head) };
  }

  /** A staged upload nobody claimed: its bytes go. */
  async function dropStaged(staged: StagedUpload) {
    await files().store.delete(staged.storageKey);
  }

  /**
   * GraphQL multipart upload, step 2 (the resolver): the staged bytes become a file of the channel,
   * checked like a direct upload (membership, name, type, size and quota with the stored size,
   * then sniffing), and READY. Refused: its bytes are deleted.
   */
  async function uploadFile(viewer: Viewer, channelId: bigint, staged: StagedUpload): Promise<File> {
    let file: File;
    let type: string;
    try {
      if (staged.uploaderId !== viewer.userId) throw notFound('file', staged.id);
      const admitted = await admit(viewer, channelId, staged.name, staged.size, staged.type);
      type = admitted.type;
      file = await prisma.file.create({
        data: {
          id: staged.id,
          workspaceId: admitted.channel.workspaceId,
          channelId: admitted.channel.id,
          uploaderId: viewer.userId,
          name: admitted.name,
          mimeType: type,
          size: BigInt(staged.size),
          storageKey: staged.storageKey,
          status: 'PENDING',
          expiresAt: new Date(Date.now() + files().config.uploadTtlS * 1000),
        },
      });
    } catch (err) {
      await files()
        .store.delete(staged.storageKey)
        .catch(() => {});
      throw err;
    }
    return finish(file, type, staged.head);
  }

  /** Sniffs the stored bytes, refuses what does not add up (deleting it), else marks READY. */
  async function finish(file: File, declared: string, staged?: Buffer): Promise<File> {
    const { store, config } = files();
    let head: Buffer;
    try {
      head = staged ?? (await readHead(store, file.storageKey, HEAD_BYTES, Number(file.size)));
    } catch (err) {
      await discard(file);
      throw err;
    }
    let verdict;
    try {
      verdict = await sniff(head.subarray(0, SNIFF_BYTES), declared);
      checkTypeAllowed(verdict.contentType, config);
      if (PREVIEWABLE_IMAGES.has(verdict.contentType)) await checkPixels(head);
    } catch (err) {
      await discard(file);
      throw err;
    }
    const ready = await withTx(prisma, async (tx) => {
      if (files().config.workspaceQuotaBytes > 0) {
        await tx.$queryRaw`SELECT 1 FROM workspaces WHERE id = ${file.workspaceId} FOR UPDATE`;
        await checkQuota(file.workspaceId, Number(file.size), tx);
      }
      const ready = await tx.file.update({
        where: { id: file.id },
        data: { status: 'READY', mimeType: verdict.contentType, expiresAt: null, previewStatus: 'PENDING' },
      });
      await tx.outboxEvent.create({
        data: { kind: FILE_READY_KIND, aggregateId: file.id, payload: { fileId: file.id.toString() } },
      });
      return ready;
    }).catch(async (err: unknown) => {
      // Over the quota with its stored size: the bytes go, like any refused upload.
      if (isDomainError(err) && err.reason === 'file/quota_exceeded') await discard(file);
      throw err;
    });
    return ready;
  }

  async function discard(file: File) {
    await files()
      .store.delete(file.storageKey)
      .catch(() => {});
    await prisma.file.deleteMany({ where: { id: file.id, status: 'PENDING' } });
  }

  /** A short-lived URL for the file's bytes (or one of its thumbnails). */
  async function downloadUrl(viewer: Viewer, file: File, thumbnail?: number): Promise<PresignedRequest | null> {
    await accessFile(viewer, file.id);
    return presign(file, thumbnail);
  }

  /** Avatar files by id, read together for every user on a page (across requests). */
  const loadAvatarFile = createBatcher<bigint, File | null>(async (ids) => {
    const rows = await prisma.file.findMany({ where: { id: { in: [...ids] } } });
    const byId = new Map(rows.map((f) => [f.id, f]));
    return ids.map((id) => byId.get(id) ?? null);
  }, String);

  /**
   * A short-lived URL of a user's avatar (or one of its thumbnails). An avatar is public to whoever
   * may see its user (the caller checked that by showing the user), not only to its channel's readers.
   */
  async function avatarUrl(user: { avatarFileId: bigint | null }, thumbnail?: number) {
    if (!user.avatarFileId || !deps.files) return null;
    const file = await loadAvatarFile(user.avatarFileId);
    if (!file || file.deletedAt) return null;
    return presign(file, thumbnail);
  }

  async function presign(file: File, thumbnail?: number): Promise<PresignedRequest | null> {
    if (file.status !== 'READY') return null;
    const { store, config } = files();
    if (thumbnail !== undefined) {
      if (!file.thumbnailSizes.includes(thumbnail)) return null;
      return store.presignGet(`t/${file.id}/${thumbnail}.webp`, {
        expiresInS: config.urlTtlS,
        contentType: 'image/webp',
        contentDisposition: contentDisposition(`${file.name}.${thumbnail}.webp`, true),
      });
    }
    const inline = isInlineType(file.mimeType);
    return store.presignGet(file.storageKey, {
      expiresInS: config.urlTtlS,
      contentType: file.mimeType,
      contentDisposition: contentDisposition(file.name, inline),
    });
  }

  /**
   * Deletes uploads never completed (past expiresAt) and the bytes of files whose messages were
   * deleted more than FILE_RETENTION_HOURS ago. Returns how many files went.
   */
  async function sweep(now = new Date()): Promise<{ abandoned: number; deleted: number }> {
    if (!deps.files) return { abandoned: 0, deleted: 0 };
    const { config } = files();
    const abandoned = await prisma.file.findMany({
      where: { status: 'PENDING', expiresAt: { lt: now } },
      take: 500,
    });
    for (const f of abandoned) await discard(f);
    const cutoff = new Date(now.getTime() - config.retentionHours * 3_600_000);
    const gone = await prisma.file.findMany({ where: { deletedAt: { lt: cutoff } }, take: 500 });
    for (const f of gone) {
      await removeBytes(f);
      await prisma.file.delete({ where: { id: f.id } });
    }
    return { abandoned: abandoned.length, deleted: gone.length };
  }

  async function removeBytes(f: File) {
    const { store } = files();
    await store.delete(f.storageKey);
    for (const s of f.thumbnailSizes) await store.delete(`t/${f.id}/${s}.webp`);
  }

  return {
    accessFile,
    createUpload,
    completeUpload,
    stageUpload,
    dropStaged,
    uploadFile,
    downloadUrl,
    avatarUrl,
    sweep,
  };
}

export type FilesService = ReturnType<typeof createFilesService>;

function isInlineType(t: string) {
  return ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif'].includes(t) || /^(video|audio)\//.test(t);
}

async function readHead(store: FileStore, key: string, n: number, size: number): Promise<Buffer> {
  if (size === 0) return Buffer.alloc(0);
  const stream = await store.read(key, { start: 0, end: Math.min(n, size) - 1 });
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Refuses images whose header declares more than MAX_PIXELS (the header is enough; nothing is decoded). */
async function checkPixels(head: Buffer) {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(head, { limitInputPixels: false, failOn: 'none' }).metadata();
  } catch {
    return; // a header we cannot read here: the previews consumer decodes with limits anyway
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0) * (meta.pages ?? 1);
  if (pixels > MAX_PIXELS)
    throw badInput(
      'file/too_many_pixels',
      `images are at most ${MAX_PIXELS} pixels (this one has ${meta.width}×${meta.height})`,
      {
        field: 'file',
      },
    );
}
