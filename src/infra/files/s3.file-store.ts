/**
 * The `s3` file store (FILE_STORE=s3): objects in one bucket of any S3-compatible service (AWS,
 * MinIO...). Clients PUT and GET straight to the bucket with presigned URLs; our server streams
 * only what it must (GraphQL multipart uploads, previews). Request checksums are sent only when an
 * operation requires them: presigned URLs then need no checksum header from the client, and
 * S3-compatible servers that do not know the newer checksum headers work.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NotFound,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { checkKey, type FileStore } from './file-store.port.js';

export interface S3FileStoreOptions {
  bucket: string;
  region: string;
  /** Custom endpoint (MinIO, a test server); omit for AWS. */
  endpoint?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (`endpoint/bucket/key`): needed by MinIO and most test servers. */
  forcePathStyle: boolean;
  /** Prefix for every key, e.g. `chat/`. */
  prefix?: string;
  /** Added to the clock when signing (tests sign URLs in the past). */
  clockSkewMs?: number;
}

export function createS3FileStore(opts: S3FileStoreOptions): FileStore {
  const client = new S3Client({
    region: opts.region,
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle,
    credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = opts.bucket;
  const prefix = opts.prefix ?? '';
  const K = (key: string) => prefix + checkKey(key);
  const signingDate = () => new Date(Date.now() + (opts.clockSkewMs ?? 0));
  const expiresAt = (s: number) => new Date(Date.now() + (opts.clockSkewMs ?? 0) + s * 1000);
  const absent = (err: unknown) =>
    err instanceof NoSuchKey ||
    err instanceof NotFound ||
    (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;

  return {
    kind: 's3',
    async put(key, body, o) {
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _e, cb) {
          size += chunk.length;
          cb(null, chunk);
        },
      });
      body.on('error', (err) => counter.destroy(err));
      // Multipart for large bodies, one PUT for small ones; parts are buffered (5 MiB each), never the whole.
      const upload = new Upload({
        client,
        params: { Bucket, Key: K(key), Body: body.pipe(counter), ContentType: o.contentType },
        queueSize: 2,
        partSize: 5 * 1024 * 1024,
        leavePartsOnError: false,
      });
      await upload.done();
      return { size };
    },
    async stat(key) {
      try {
        const r = await client.send(new HeadObjectCommand({ Bucket, Key: K(key) }));
        return { size: Number(r.ContentLength ?? 0) };
      } catch (err) {
        if (absent(err)) return null;
        throw err;
      }
    },
    async read(key, range) {
      const r = await client.send(
        new GetObjectCommand({ Bucket, Key: K(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      if (!(r.Body instanceof Readable)) throw new Error('S3 body is not a Node stream');
      return r.Body;
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: K(key) }));
    },
    async presignPut(key, o) {
      const url = await getSignedUrl(
        client,
        new PutObjectCommand({ Bucket, Key: K(key), ContentType: o.contentType, ContentLength: o.size }),
        {
          expiresIn: o.expiresInS,
          signableHeaders: new Set(['content-type', 'content-length']),
          signingDate: signingDate(),
        },
      );
      return { url, method: 'PUT', headers: { 'content-type': o.contentType }, expiresAt: expiresAt(o.expiresInS) };
    },
    async presignGet(key, o) {
      const url = await getSignedUrl(
        client,
        new GetObjectCommand({
          Bucket,
          Key: K(key),
          ResponseContentType: o.contentType,
          ResponseContentDisposition: o.contentDisposition,
          ResponseCacheControl: 'private, max-age=60',
        }),
        { expiresIn: o.expiresInS, signingDate: signingDate() },
      );
      return { url, method: 'GET', headers: {}, expiresAt: expiresAt(o.expiresInS) };
    },
    close() {
      client.destroy();
      return Promise.resolve();
    },
  };
}
