/**
 * The FileStore contract (src/infra/files/file-store.port.ts): every adapter runs these same tests.
 * Run from tests/unit/file-store.test.ts: `fs` in a temporary directory, and `s3` against an S3
 * protocol server started on loopback inside the test.
 *
 * Presigned URLs are exercised over real HTTP with fetch, as a client would. Expiry is tested with
 * a store whose clock is skewed into the past (no sleeping).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileStore } from '../../src/infra/files/file-store.port.js';

export interface FileStoreSubject {
  store: FileStore;
  /** The same store with its clock `ms` off (negative: URLs it signs are already old). */
  skewed(ms: number): FileStore;
  /** Files anywhere on disk created during the test that are not under the store's root (fs only). */
  strayFiles?(): Promise<string[]>;
  cleanup(): Promise<void>;
}

let seq = 0;
const key = () => `f/contract/${Date.now().toString(36)}-${++seq}`;

async function text(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A body of `n` bytes that arrives in 64 KiB chunks, never as one buffer. */
function chunked(n: number, seed = 7): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= n) return this.push(null);
      const len = Math.min(65_536, n - sent);
      const chunk = Buffer.alloc(len, (sent / 65_536 + seed) % 251);
      sent += len;
      this.push(chunk);
    },
  });
}

export function describeFileStoreContract(name: string, make: () => Promise<FileStoreSubject>) {
  describe(`FileStore contract: ${name}`, () => {
    let subject: FileStoreSubject;
    let store: FileStore;
    beforeAll(async () => {
      subject = await make();
      store = subject.store;
    });
    afterAll(() => subject?.cleanup());

    it('streams a put, reports its size, and reads it back whole and by range', async () => {
      const k = key();
      const n = 3 * 1024 * 1024 + 17;
      expect(await store.put(k, chunked(n), { contentType: 'application/octet-stream' })).toEqual({ size: n });
      expect(await store.stat(k)).toEqual({ size: n });
      const whole = await text(await store.read(k));
      expect(whole.length).toBe(n);
      expect(whole.equals(await text(chunked(n)))).toBe(true);
      const head = await text(await store.read(k, { start: 0, end: 9 }));
      expect(head.equals(whole.subarray(0, 10))).toBe(true);
      const tail = await text(await store.read(k, { start: n - 5, end: n - 1 }));
      expect(tail.equals(whole.subarray(n - 5))).toBe(true);
    });

    it('answers absent keys: stat null, read rejects, delete is a no-op; delete removes', async () => {
      const k = key();
      expect(await store.stat(k)).toBeNull();
      await expect(store.read(k)).rejects.toThrow();
      await store.delete(k);
      await store.put(k, Readable.from([Buffer.from('x')]), { contentType: 'text/plain' });
      await store.delete(k);
      expect(await store.stat(k)).toBeNull();
    });

    it('refuses keys that are not ours before any I/O, and writes nothing outside its root', async () => {
      for (const bad of [
        '../escape',
        'f/../../escape',
        '/etc/passwd',
        'f/a\0b',
        'F/upper',
        'f//x',
        'f/./x',
        '',
        'f/x/..',
      ]) {
        await expect(store.put(bad, Readable.from([Buffer.from('x')]), { contentType: 'text/plain' })).rejects.toThrow(
          /not a store key/,
        );
        await expect(
          store.presignGet(bad, { expiresInS: 60, contentType: 'text/plain', contentDisposition: 'attachment' }),
        ).rejects.toThrow(/not a store key/);
      }
      if (subject.strayFiles) expect(await subject.strayFiles()).toEqual([]);
    });

    it('a failed body stores nothing under the key', async () => {
      const k = key();
      const broken = new Readable({
        read() {
          this.push(Buffer.alloc(1024, 1));
          this.destroy(new Error('client went away'));
        },
      });
      await expect(store.put(k, broken, { contentType: 'text/plain' })).rejects.toThrow();
      expect(await store.stat(k)).toBeNull();
    });

    it('presigned PUT then GET over HTTP, with the signed content type and disposition', async () => {
      const k = key();
      const body = randomBytes(100_000);
      const put = await store.presignPut(k, { contentType: 'image/png', size: body.length, expiresInS: 300 });
      expect(put.method).toBe('PUT');
      expect(put.expiresAt.getTime()).toBeGreaterThan(Date.now() + 200_000);
      const r = await fetch(put.url, { method: 'PUT', headers: put.headers, body });
      expect(r.status).toBe(200);
      expect(await store.stat(k)).toEqual({ size: body.length });

      const get = await store.presignGet(k, {
        expiresInS: 300,
        contentType: 'image/png',
        contentDisposition: 'inline; filename="cat.png"',
      });
      const g = await fetch(get.url);
      expect(g.status).toBe(200);
      expect(g.headers.get('content-type')).toBe('image/png');
      expect(g.headers.get('content-disposition')).toBe('inline; filename="cat.png"');
      expect(Buffer.from(await g.arrayBuffer()).equals(body)).toBe(true);
    });

    it('a presigned PUT refuses a body larger or smaller than signed, and stores nothing', async () => {
      const k = key();
      const put = await store.presignPut(k, { contentType: 'text/plain', size: 10, expiresInS: 300 });
      const larger = await fetch(put.url, { method: 'PUT', headers: put.headers, body: 'x'.repeat(11) });
      expect(larger.status).toBeGreaterThanOrEqual(400);
      const smaller = await fetch(put.url, { method: 'PUT', headers: put.headers, body: 'x'.repeat(9) });
      expect(smaller.status).toBeGreaterThanOrEqual(400);
      expect(await store.stat(k)).toBeNull();
    });

    it('refuses an expired URL, a URL moved to another key, and a forged signature', async () => {
      const k = key();
      await store.put(k, Readable.from([Buffer.from('secret')]), { contentType: 'text/plain' });
      const other = key();
      await store.put(other, Readable.from([Buffer.from('other')]), { contentType: 'text/plain' });
      const opts = { expiresInS: 60, contentType: 'text/plain', contentDisposition: 'attachment' };

      const old = await subject.skewed(-3_600_000).presignGet(k, opts);
      expect(old.expiresAt.getTime()).toBeLessThan(Date.now());
      expect((await fetch(old.url)).status).toBe(403);

      const good = await store.presignGet(k, opts);
      expect((await fetch(good.url)).status).toBe(200);
      const moved = good.url.replace(k, other);
      expect(moved).not.toBe(good.url);
      expect((await fetch(moved)).status).toBe(403);

      const u = new URL(good.url);
      const sigParam = [...u.searchParams.keys()].find((p) => /sig/i.test(p))!;
      const sig = u.searchParams.get(sigParam)!;
      u.searchParams.set(sigParam, (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
      expect((await fetch(u)).status).toBe(403);

      // A GET URL does not upload.
      expect((await fetch(good.url, { method: 'PUT', body: 'overwrite' })).status).toBe(403);
      expect((await text(await store.read(k))).toString()).toBe('secret');
    });
  });
}
