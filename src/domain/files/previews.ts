/**
 * Previews, made by the `previews` outbox consumer (registered in app.ts) after a file turns
 * READY, never on the request path: WebP thumbnails of images (360 and 720 px wide at most, EXIF
 * orientation applied, metadata stripped, decoding bounded by `limitInputPixels`), dimensions, and
 * a text snippet for text files. A file sharp cannot decode gets previewStatus FAILED and is still
 * a normal attachment: a preview never blocks a message. When a preview is ready, the messages
 * that carry the file are announced as MessageEdited so viewers' clients refresh the attachment.
 */
import { Readable } from 'node:stream';
import sharp from 'sharp';
import type { PrismaClient } from '../../infra/db/database.js';
import type { FileStore } from '../../infra/files/file-store.port.js';
import type { OutboxEvent } from '../../infra/outbox/outbox.worker.js';
import type { EventPublisher } from '../events/events.js';
import { PREVIEWABLE_IMAGES } from './file-policy.js';
import { FILE_READY_KIND, MAX_PIXELS, THUMBNAIL_SIZES } from './files.service.js';

const SNIPPET_BYTES = 2_048;
const SNIPPET_CHARS = 500;
/** Images above this are not decoded for thumbnails (uploads above MAX_PIXELS never get here). */
const MAX_IMAGE_BYTES = 50 * 1024 * 1024;

export interface PreviewDeps {
  prisma: PrismaClient;
  store: FileStore;
  events: EventPublisher;
  log: { warn(obj: object, msg: string): void };
}

export function createPreviewConsumer(deps: PreviewDeps) {
  const { prisma, store } = deps;

  async function readAll(key: string, max: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of await store.read(key)) {
      n += (c as Buffer).length;
      if (n > max) throw new TooBig();
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async function preview(fileId: bigint): Promise<void> {
    const file = await prisma.file.findUnique({ where: { id: fileId } });
    if (!file || file.status !== 'READY' || file.previewStatus !== 'PENDING') return; // replay or deleted
    let data: {
      previewStatus: 'READY' | 'FAILED';
      width?: number;
      height?: number;
      thumbnailSizes?: number[];
      textSnippet?: string;
    };
    if (PREVIEWABLE_IMAGES.has(file.mimeType)) {
      try {
        const input = await readAll(file.storageKey, MAX_IMAGE_BYTES);
        const opts = { limitInputPixels: MAX_PIXELS, failOn: 'error' as const };
        const meta = await sharp(input, opts).metadata();
        const sizes: number[] = [];
        for (const width of THUMBNAIL_SIZES) {
          // rotate() applies the EXIF orientation; output carries no metadata unless asked (withMetadata).
          const out = await sharp(input, opts)
            .rotate()
            .resize({ width, height: width, fit: 'inside', withoutEnlargement: true })
            .webp({ quality: 80 })
            .toBuffer();
          await store.put(`t/${file.id}/${width}.webp`, Readable.from([out]), { contentType: 'image/webp' });
          sizes.push(width);
        }
        const swap = (meta.orientation ?? 1) >= 5; // 90° rotations swap width and height
        data = {
          previewStatus: 'READY',
          width: swap ? meta.height : meta.width,
          height: swap ? meta.width : meta.height,
          thumbnailSizes: sizes,
        };
      } catch (err) {
        if (!(err instanceof TooBig) && !isDecodeError(err)) throw err; // the store is down: retry later
        deps.log.warn({ err, fileId: file.id.toString() }, 'preview failed; the file stays a plain attachment');
        data = { previewStatus: 'FAILED' };
      }
    } else if (file.mimeType.startsWith('text/')) {
      const head = await readHeadText(file.storageKey, Number(file.size));
      data = { previewStatus: 'READY', textSnippet: head };
    } else {
      data = { previewStatus: 'READY' };
    }
    await prisma.file.update({ where: { id: file.id }, data });
    const carriers = await prisma.messageFile.findMany({
      where: { fileId: file.id, message: { deletedAt: null } },
      select: { message: { select: { id: true, channelId: true, threadRootId: true } } },
    });
    for (const { message } of carriers)
      deps.events.publish({
        type: 'MessageEdited',
        channelId: message.channelId.toString(),
        messageId: message.id.toString(),
        threadRootId: message.threadRootId?.toString() ?? null,
      });
  }

  async function readHeadText(key: string, size: number): Promise<string> {
    if (size === 0) return '';
    const chunks: Buffer[] = [];
    for await (const c of await store.read(key, { start: 0, end: Math.min(size, SNIPPET_BYTES) - 1 }))
      chunks.push(c as Buffer);
    const text = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
    // eslint-disable-next-line no-control-regex
    return [...text.replace(/\ufffd+$/, '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '')]
      .slice(0, SNIPPET_CHARS)
      .join('');
  }

  return {
    name: 'previews',
    kinds: [FILE_READY_KIND],
    async handle(events: OutboxEvent[]) {
      for (const e of events) await preview(e.aggregateId);
    },
  };
}

class TooBig extends Error {}

/** sharp's errors for input it cannot or will not decode (corrupt, unsupported, over the pixel limit). */
function isDecodeError(err: unknown): boolean {
  const m = err instanceof Error ? err.message : '';
  return /Input|unsupported image format|pixel limit|VipsJpeg|pngload|gifload|webpload|heif|tiff|corrupt|premature|bad seek|Expected/i.test(
    m,
  );
}
