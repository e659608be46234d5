/**
 * The object storage port: where file bytes live. Adapters: `fs` (fs.file-store.ts, the default,
 * under DATA_DIR, up- and downloads through our own /files/blob routes with HMAC-signed URLs) and
 * `s3` (s3.file-store.ts, presigned PUT/GET straight to the bucket). Both pass one contract suite
 * (tests/contract/file-store.contract.ts).
 *
 * Guarantees every adapter gives:
 *  - Keys are ours (`isStoreKey`: lowercase letters, digits, `/`, `-`, `_`, `.`, no `..`); a
 *    malformed key is refused before any I/O, so nothing is ever written outside the store's root.
 *  - `put` streams: memory stays flat whatever the size. It resolves with the byte count written;
 *    a failing or aborted body stores nothing under the key.
 *  - `stat` and `read` of an absent key: null / a rejected promise; `delete` of one: a no-op.
 *  - Presigned URLs carry method, key and expiry and, for GET, the response's Content-Type and
 *    Content-Disposition; they stop working after `expiresInS` and cannot be moved to another key.
 *    A presigned PUT fixes the Content-Type and the Content-Length (a body of another size is refused).
 */
import type { Readable } from 'node:stream';

export interface PresignedRequest {
  url: string;
  method: 'PUT' | 'GET';
  /** Headers the client must send with the request (PUT: content-type). */
  headers: Record<string, string>;
  expiresAt: Date;
}

export interface FileStore {
  readonly kind: 'fs' | 's3';
  /** Streams `body` to `key` (replacing it); resolves with the number of bytes stored. */
  put(key: string, body: Readable, opts: { contentType: string }): Promise<{ size: number }>;
  stat(key: string): Promise<{ size: number } | null>;
  /** The object's bytes; `range` is inclusive, like HTTP's (`{ start: 0, end: 4099 }`). */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  delete(key: string): Promise<void>;
  presignPut(key: string, opts: { contentType: string; size: number; expiresInS: number }): Promise<PresignedRequest>;
  presignGet(
    key: string,
    opts: { expiresInS: number; contentType: string; contentDisposition: string },
  ): Promise<PresignedRequest>;
  close(): Promise<void>;
}

export class StoreKeyError extends Error {
  override name = 'StoreKeyError';
}

/** Our keys only: `f/123/abc`, `t/123/360.webp`. */
export function isStoreKey(key: string): boolean {
  return (
    key.length > 0 &&
    key.length <= 200 &&
    /^[a-z0-9][a-z0-9/_.-]*$/.test(key) &&
    !key.split('/').some((p) => p === '' || p === '.' || p === '..')
  );
}

export function checkKey(key: string): string {
  if (!isStoreKey(key)) throw new StoreKeyError(`not a store key: ${JSON.stringify(key.slice(0, 80))}`);
  return key;
}
