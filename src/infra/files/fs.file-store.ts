/**
 * The `fs` file store (FILE_STORE=fs, the default): objects are files under `<DATA_DIR>/files`.
 * Clients up- and download through our own route `/files/blob/<key>` with URLs signed by
 * HMAC-SHA256 over method, key, expiry, and the content type, disposition and length they fix;
 * the signature is compared in constant time. `serve` is that route's handler (app.ts mounts it).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkKey, isStoreKey, StoreKeyError, type FileStore, type PresignedRequest } from './file-store.port.js';

export interface FsFileStoreOptions {
  /** The directory objects live under (created if missing). */
  root: string;
  /** HMAC key for URLs; at least 32 bytes. */
  secret: string;
  /** The public origin clients reach this server at, e.g. `https://chat.example.com`. */
  baseUrl: () => string;
  /** Clock (tests). */
  now?: () => number;
}

export interface FsFileStore extends FileStore {
  readonly kind: 'fs';
  /** The `/files/blob/*` route: GET/HEAD downloads, PUT uploads, each with a signed URL. */
  serve(req: IncomingMessage, res: ServerResponse, key: string, query: URLSearchParams): Promise<void>;
}

export function createFsFileStore(opts: FsFileStoreOptions): FsFileStore {
  const root = resolve(opts.root);
  const now = opts.now ?? Date.now;
  const secret = Buffer.from(opts.secret, 'utf8');

  /** The path of a key, proven to be inside the root. */
  function pathOf(key: string): string {
    const p = resolve(root, checkKey(key));
    if (!p.startsWith(root + sep)) throw new Error('key escapes the store root');
    return p;
  }

  function sign(fields: string[]): string {
    return createHmac('sha256', secret).update(fields.join('\n')).digest('base64url');
  }

  function signedUrl(method: 'GET' | 'PUT', key: string, expiresInS: number, extra: Record<string, string>) {
    const exp = Math.floor(now() / 1000) + expiresInS;
    const params = new URLSearchParams({ m: method, exp: String(exp), ...extra });
    params.set('sig', sign(fieldsFor(method, key, params)));
    return { url: `${opts.baseUrl().replace(/\/$/, '')}/files/blob/${key}?${params}`, expiresAt: new Date(exp * 1000) };
  }

  /** What a signature covers: the method, the key, the expiry and whatever the URL fixes. */
  function fieldsFor(method: string, key: string, q: URLSearchParams): string[] {
    return [method, key, q.get('exp') ?? '', q.get('ct') ?? '', q.get('cd') ?? '', q.get('len') ?? ''];
  }

  function verify(method: string, key: string, q: URLSearchParams): 'ok' | 'expired' | 'bad' {
    const sig = q.get('sig') ?? '';
    if (q.get('m') !== method) return 'bad';
    const expected = Buffer.from(sign(fieldsFor(method, key, q)));
    const given = Buffer.from(sig);
    // Constant time for equal lengths; a length mismatch reveals nothing about the key.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad';
    const exp = Number(q.get('exp'));
    if (!Number.isInteger(exp) || exp * 1000 <= now()) return 'expired';
    return 'ok';
  }

  async function put(key: string, body: Readable, _o: { contentType: string }, limit?: number) {
    const target = pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    // Write beside the target, then rename: a failed or partial body never appears under the key.
    const tmp = `${target}.${randomBytes(6).toString('hex')}.part`;
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (limit !== undefined && size > limit) cb(new BodyTooLargeError(limit));
        else cb(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(tmp, { flags: 'wx' }));
      if (limit !== undefined && size !== limit) throw new BodyLengthError(limit, size);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { size };
  }

  async function statKey(key: string) {
    try {
      const s = await stat(pathOf(key));
      return s.isFile() ? { size: s.size } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  const store: FsFileStore = {
    kind: 'fs',
    put: (key, body, o) => put(key, body, o),
    stat: statKey,
    async read(key, range) {
      const p = pathOf(key);
      const s = await stat(p); // rejects (ENOENT) for an absent key
      if (!s.isFile()) throw new Error(`not an object: ${key}`);
      return createReadStream(p, range ? { start: range.start, end: range.end } : {});
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    presignPut(key, o): Promise<PresignedRequest> {
      if (!isStoreKey(key))
        return Promise.reject(new StoreKeyError(`not a store key: ${JSON.stringify(key.slice(0, 80))}`));
      const { url, expiresAt } = signedUrl('PUT', key, o.expiresInS, { ct: o.contentType, len: String(o.size) });
      return Promise.resolve({ url, method: 'PUT', headers: { 'content-type': o.contentType }, expiresAt });
    },
    presignGet(key, o): Promise<PresignedRequest> {
      if (!isStoreKey(key))
        return Promise.reject(new StoreKeyError(`not a store key: ${JSON.stringify(key.slice(0, 80))}`));
      const { url, expiresAt } = signedUrl('GET', key, o.expiresInS, {
        ct: o.contentType,
        cd: o.contentDisposition,
      });
      return Promise.resolve({ url, method: 'GET', headers: {}, expiresAt });
    },
    close: () => Promise.resolve(),

    async serve(req, res, key, q) {
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
      const fail = (status: number, error: string) => {
        const body = JSON.stringify({ error });
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'x-content-type-options': 'nosniff',
          'cache-control': 'no-store',
          ...(method === 'PUT' ? { connection: 'close' } : {}),
        });
        res.end(body);
        if (method === 'PUT') req.resume();
      };
      if (!isStoreKey(key) || (method !== 'GET' && method !== 'PUT')) return fail(404, 'not found');
      const verdict = verify(method, key, q);
      if (verdict === 'bad') return fail(403, 'invalid signature');
      if (verdict === 'expired') return fail(403, 'url expired');
      if (method === 'PUT') {
        const len = Number(q.get('len'));
        if ((req.headers['content-type'] ?? '') !== q.get('ct'))
          return fail(400, 'content-type differs from the signed one');
        const declared = req.headers['content-length'];
        if (declared !== undefined && Number(declared) !== len)
          return fail(Number(declared) > len ? 413 : 400, `content-length must be ${len}`);
        try {
          await put(key, req, { contentType: q.get('ct') ?? '' }, len);
        } catch (err) {
          if (err instanceof BodyTooLargeError) return fail(413, err.message);
          if (err instanceof BodyLengthError) return fail(400, err.message);
          if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || req.destroyed) return;
          throw err;
        }
        res.writeHead(200, { 'content-length': 0, 'cache-control': 'no-store' });
        res.end();
        return;
      }
      const s = await statKey(key);
      if (!s) return fail(404, 'not found');
      res.writeHead(200, {
        'content-type': q.get('ct') ?? 'application/octet-stream',
        'content-disposition': q.get('cd') ?? 'attachment',
        'content-length': s.size,
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
        'cache-control': 'private, max-age=60',
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await pipeline(createReadStream(pathOf(key)), res).catch(() => res.destroy());
    },
  };
  return store;
}

class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  constructor(limit: number) {
    super(`body is larger than the declared ${limit} bytes`);
  }
}

class BodyLengthError extends Error {
  override name = 'BodyLengthError';
  constructor(limit: number, got: number) {
    super(`body has ${got} bytes, ${limit} were declared`);
  }
}

/** Where the fs store keeps objects under DATA_DIR. */
export const fsStoreRoot = (dataDir: string) => join(dataDir, 'files');
