/**
 * Files end to end over real HTTP on the fs store (a temporary DATA_DIR): both upload paths, a
 * member downloading the file and its thumbnail through expiring signed URLs, access on every
 * path, and the hostile upload suite. The store contract (fs and s3) is in tests/unit/file-store.test.ts.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { print } from 'graphql';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, listenMark, startTestApp, type Client, type TestApp } from '../helpers/app.js';
import { connect, subscribe } from '../helpers/ws.js';
import { eventually } from '../helpers/eventually.js';
import {
  CompleteUploadDocument,
  CreateChannelDocument,
  CreateUploadDocument,
  DeleteMessageDocument,
  FileInfoDocument,
  FilePreviewEventsDocument,
  InviteToChannelDocument,
  LeaveChannelDocument,
  SearchDocument,
  SendMessageDocument,
  UploadFileDocument,
} from '../generated/gql/graphql.js';

type Who = Awaited<ReturnType<typeof basicWorkspace>>['ann'];

describeApi('files', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let dataDir: string;
  let png: Buffer;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'files-api-'));
    t = await startTestApp({ DATA_DIR: dataDir, FILE_MAX_BYTES: String(2 * 1024 * 1024), OUTBOX_POLL_MS: '50' });
    w = await basicWorkspace(t);
    // A 1200×800 photo whose EXIF says "rotate 90°": thumbnails and dimensions come out upright.
    png = await sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 200, g: 40, b: 40 } } })
      .png()
      .toBuffer();
  });
  afterAll(async () => {
    await t?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const direct = (who: Who, body: Buffer, name: string, contentType: string, size = body.length) =>
    directUpload(who.client, w.general.id, body, name, contentType, size);
  const multipart = (client: Client, body: Buffer, name: string, type: string, csrf = true) =>
    multipartUpload(client, w.general.id, body, name, type, csrf);

  const code = (r: { errors?: readonly { extensions?: Record<string, unknown> }[] | null }) =>
    r.errors?.[0]?.extensions?.['code'];
  const reason = (r: { errors?: readonly { extensions?: Record<string, unknown> }[] | null }) =>
    r.errors?.[0]?.extensions?.['reason'];

  it('a picture goes up directly, is sent, and another member downloads it and its thumbnail', async () => {
    const jpeg = await sharp(png).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const { put, done } = await direct(w.ann, jpeg, 'holiday photo.jpg', 'image/jpeg');
    expect(put!.status).toBe(200);
    const file = done!.data!.completeUpload;
    expect(file).toMatchObject({
      status: 'READY',
      contentType: 'image/jpeg',
      size: jpeg.length,
      name: 'holiday photo.jpg',
    });

    // Not sent yet: the uploader's alone.
    expect((await w.bob.client.ok(FileInfoDocument, { id: file.id })).file).toBeNull();
    const sent = await w.ann.client.ok(SendMessageDocument, {
      input: { channelId: w.general.id, text: 'look', fileIds: [file.id] },
    });
    expect(sent.sendMessage.id).toBeTruthy();

    const seen = await eventually(
      async () => (await w.bob.client.ok(FileInfoDocument, { id: file.id, thumb: 360 })).file,
      (f) => f?.previewStatus === 'READY',
    );
    // EXIF orientation 6 (90°): the upright picture is 800 wide, 1200 high.
    expect(seen).toMatchObject({ width: 800, height: 1200 });
    const download = await fetch(seen!.url!);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/jpeg');
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    expect(download.headers.get('content-disposition')).toMatch(/^inline; filename="holiday photo.jpg"/);
    expect(Buffer.from(await download.arrayBuffer()).equals(jpeg)).toBe(true);

    const thumb = await fetch(seen!.thumbnailUrl!);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'webp', height: 360 });
    expect(meta.width).toBe(240);
    expect(meta.exif).toBeUndefined(); // metadata stripped

    // Eve (another workspace) sees nothing; the URL is bound to its file.
    expect((await w.eve.client.ok(FileInfoDocument, { id: file.id })).file).toBeNull();
  });

  it('tells the channel’s viewers when a sent picture’s preview is ready (MessageEdited)', async () => {
    // The outbox is held while the picture is uploaded and sent, so the preview is made after the
    // message exists: the moment a client sees the attachment PENDING and needs the event.
    await t.app.outbox.stop();
    const bob = connect(t.url, w.bob.token);
    try {
      const { done } = await direct(w.ann, await sharp(png).jpeg().toBuffer(), 'sunset.jpg', 'image/jpeg');
      const file = done!.data!.completeUpload;
      expect(file.previewStatus).toBe('PENDING');
      const msg = (
        await w.ann.client.ok(SendMessageDocument, {
          input: { channelId: w.general.id, text: 'sunset', fileIds: [file.id] },
        })
      ).sendMessage;
      const live = listenMark(t);
      const sees = subscribe(bob.client, FilePreviewEventsDocument, { channelId: w.general.id });
      await live(1);
      t.app.outbox.start();
      const edited = () =>
        sees.events.map((e) => e.channel).filter((c) => c.__typename === 'MessageEdited' && c.message.id === msg.id);
      await sees.until(() => edited().length > 0, 10_000, 'MessageEdited for the preview');
      const ev = edited()[0]!;
      const files = ev.__typename === 'MessageEdited' ? ev.message.files : [];
      expect(files).toHaveLength(1);
      expect(files[0]).toMatchObject({ id: file.id, previewStatus: 'READY', width: 1200, height: 800 });
      expect(files[0]!.thumbnailUrl).toMatch(/^http/);
      const thumb = await fetch(files[0]!.thumbnailUrl!);
      expect([thumb.status, thumb.headers.get('content-type')]).toEqual([200, 'image/webp']);
      expect(sees.errors).toEqual([]);
      sees.unsubscribe();
    } finally {
      t.app.outbox.start();
      void bob.dispose();
    }
  });

  it('uploads over the multipart request spec, and refuses one without the CSRF header', async () => {
    const text = Buffer.from('line one\nline two\n');
    const r = await multipart(w.ann.client, text, 'notes.txt', 'text/plain');
    expect(r.errors).toBeUndefined();
    expect(r.data!.uploadFile).toMatchObject({ name: 'notes.txt', contentType: 'text/plain', status: 'READY' });
    const info = await eventually(
      async () => (await w.ann.client.ok(FileInfoDocument, { id: r.data!.uploadFile.id })).file,
      (f) => f?.previewStatus === 'READY',
    );
    expect(info!.textSnippet).toBe('line one\nline two\n');
    const dl = await fetch(info!.url!);
    expect(dl.headers.get('content-disposition')).toMatch(/^attachment; /);

    const before = await t.app.db.prisma.file.count();
    const noCsrf = await multipart(w.ann.client, text, 'notes.txt', 'text/plain', false);
    expect(noCsrf.status).toBeGreaterThanOrEqual(400);
    expect(noCsrf.data?.uploadFile).toBeFalsy();
    expect(await t.app.db.prisma.file.count()).toBe(before);
  });

  it('streams a multipart file into the store while the request is still being sent', async () => {
    // The body is sent in two halves; the second waits until the store holds bytes of the first.
    // A server that buffered the part before storing it (yoga's own multipart parser did) never
    // writes a byte before the request ends, and this test times out.
    const boundary = `----chat${Date.now()}`;
    const size = 1536 * 1024;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n` +
        JSON.stringify({ query: print(UploadFileDocument), variables: { channelId: w.general.id, file: null } }) +
        `\r\n--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.file"]}` +
        `\r\n--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.txt"\r\n` +
        `Content-Type: text/plain\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const firstHalf = Buffer.alloc(1024 * 1024, 97);
    const secondHalf = Buffer.alloc(size - firstHalf.length, 98);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const body = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(new Uint8Array(Buffer.concat([head, firstHalf])));
        await released;
        c.enqueue(new Uint8Array(Buffer.concat([secondHalf, tail])));
        c.close();
      },
    });
    const answer = fetch(t.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${w.ann.token}`,
        'x-graphql-yoga-csrf': '1',
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + size + tail.length),
      },
      body,
      duplex: 'half',
    } as RequestInit);
    // Bytes of the part in the store (a partial object under DATA_DIR/files) before the rest is sent.
    const partial = await eventually(
      async () => {
        const all = await readdir(join(dataDir, 'files'), { recursive: true }).catch(() => [] as string[]);
        const found = all.filter((f) => f.endsWith('.part'));
        const sizes = await Promise.all(found.map(async (f) => (await stat(join(dataDir, 'files', f))).size));
        return Math.max(0, ...sizes);
      },
      (n) => n >= 512 * 1024,
    );
    release();
    expect(partial).toBeGreaterThanOrEqual(512 * 1024);
    expect(partial).toBeLessThanOrEqual(firstHalf.length);
    const res = await answer;
    const json = (await res.json()) as { data?: { uploadFile: { size: number; status: string } }; errors?: unknown };
    expect(json.errors).toBeUndefined();
    expect(json.data!.uploadFile).toMatchObject({ size, status: 'READY' });
  });

  it('refuses hostile uploads on both paths and keeps nothing of them', async () => {
    const before = await t.app.db.prisma.file.count({ where: { status: 'READY' } });
    // A PNG header claiming 50,000 × 50,000 pixels (2.5 gigapixels) with a tiny body.
    const bomb = pngHeader(50_000, 50_000);
    const cases: { name: string; body: Buffer; type: string; reason: string }[] = [
      { name: 'bomb.png', body: bomb, type: 'image/png', reason: 'file/too_many_pixels' },
      {
        name: 'evil.svg',
        body: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        type: 'image/svg+xml',
        reason: 'file/active_content',
      },
      {
        name: 'page.png',
        body: Buffer.from('<!doctype html><html><script>alert(document.cookie)</script></html>'),
        type: 'image/png',
        reason: 'file/type_mismatch',
      },
      {
        name: 'polyglot.gif',
        body: Buffer.concat([
          Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00', 'latin1'),
          Buffer.from('<script>alert(1)</script>'),
        ]),
        type: 'image/gif',
        reason: 'file/polyglot',
      },
      {
        name: 'archive.png',
        body: zipOf('a.txt', Buffer.alloc(100, 65)),
        type: 'image/png',
        reason: 'file/type_mismatch',
      },
    ];
    for (const c of cases) {
      const d = await direct(w.ann, c.body, c.name, c.type);
      expect([c.name, code(d.done!)]).toEqual([c.name, 'BAD_USER_INPUT']);
      expect([c.name, reason(d.done!)]).toEqual([c.name, c.reason]);
      const m = await multipart(w.ann.client, c.body, c.name, c.type);
      expect([c.name, m.errors?.[0]?.extensions?.reason]).toEqual([c.name, c.reason]);
    }
    expect(await t.app.db.prisma.file.count({ where: { status: 'READY' } })).toBe(before);
    expect(await t.app.db.prisma.file.count({ where: { status: 'PENDING' } })).toBe(0);
    // Only our keys under the store's root, nothing beside it.
    expect(await readdir(dataDir)).toEqual(expect.arrayContaining(['files']));
    expect((await readdir(dataDir)).filter((f) => f !== 'files' && f !== 'pglite')).toEqual([]);
  });

  it('neutralizes names and markup, keeps archives as attachments, and refuses what it must', async () => {
    const txt = Buffer.from('hello');
    const traversal = await multipart(w.ann.client, txt, '../../../etc/passwd', 'text/plain');
    expect(traversal.data!.uploadFile.name).toBe('passwd');
    const rlo = await multipart(w.ann.client, txt, 'invoice\u202Efdp.exe', 'text/plain');
    expect(rlo.data!.uploadFile.name).toBe('invoice_fdp.exe');
    const long = await direct(w.ann, txt, 'x'.repeat(300), 'text/plain');
    expect(reason(long.created)).toBe('file/name_too_long');
    const nul = await direct(w.ann, txt, 'a\u0000b.txt', 'text/plain');
    expect(code(nul.created)).toBe('BAD_USER_INPUT');

    // HTML declared as HTML: kept, but served as text/plain, as an attachment, never rendered.
    const html = await direct(w.ann, Buffer.from('<html><body>hi</body></html>'), 'page.html', 'text/html');
    expect(html.done!.data!.completeUpload.contentType).toBe('text/plain');
    // A decompression bomb (a zip of 20 MiB of zeros): stored as an opaque attachment, never unpacked.
    const bombZip = zipOf('zeros.bin', Buffer.alloc(20 * 1024 * 1024));
    const zip = await direct(w.ann, bombZip, 'zeros.zip', 'application/zip');
    expect(zip.done!.data!.completeUpload).toMatchObject({ contentType: 'application/zip', status: 'READY' });
    const info = (await w.ann.client.ok(FileInfoDocument, { id: zip.done!.data!.completeUpload.id })).file!;
    const dl = await fetch(info.url!, { method: 'HEAD' });
    expect(dl.headers.get('content-disposition')).toMatch(/^attachment; filename="zeros.zip"/);
    expect(dl.headers.get('content-type')).toBe('application/zip');
  });

  it('checks sizes: larger and smaller bodies than declared, over the limit, and reused or forged URLs', async () => {
    const body = Buffer.alloc(1000, 66);
    const larger = await direct(w.ann, Buffer.alloc(1001, 66), 'a.txt', 'text/plain', 1000);
    expect(larger.put!.status).toBe(413);
    expect(reason(larger.done!)).toBe('file/not_uploaded');
    const smaller = await direct(w.ann, Buffer.alloc(999, 66), 'a.txt', 'text/plain', 1000);
    expect(smaller.put!.status).toBe(400);
    const tooBig = await w.ann.client.request(CreateUploadDocument, {
      input: {
        channelId: w.general.id,
        name: 'big.bin',
        size: 3 * 1024 * 1024,
        contentType: 'application/octet-stream',
      },
    });
    expect(code(tooBig)).toBe('PAYLOAD_TOO_LARGE');
    const overMultipart = await multipart(
      w.ann.client,
      Buffer.alloc(2 * 1024 * 1024 + 10),
      'big.bin',
      'application/octet-stream',
    );
    expect(overMultipart.errors?.[0]?.extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });

    // Two uploads: the first URL cannot write the second file, and a forged signature writes nothing.
    const a = (
      await w.ann.client.ok(CreateUploadDocument, {
        input: { channelId: w.general.id, name: 'a.txt', size: 1000, contentType: 'text/plain' },
      })
    ).createUpload;
    const b = (
      await w.ann.client.ok(CreateUploadDocument, {
        input: { channelId: w.general.id, name: 'b.txt', size: 1000, contentType: 'text/plain' },
      })
    ).createUpload;
    const keyOf = (u: string) => new URL(u).pathname;
    const reused = a.url.replace(keyOf(a.url), keyOf(b.url));
    expect(
      (await fetch(reused, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: new Uint8Array(body) }))
        .status,
    ).toBe(403);
    const forged = new URL(b.url);
    forged.searchParams.set(
      'sig',
      forged.searchParams.get('sig')!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
    );
    expect(
      (await fetch(forged, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: new Uint8Array(body) }))
        .status,
    ).toBe(403);
    expect(reason(await w.ann.client.request(CompleteUploadDocument, { fileId: b.fileId }))).toBe('file/not_uploaded');

    // Someone else's fileId: completing it or sending it is NOT_FOUND.
    expect(code(await w.bob.client.request(CompleteUploadDocument, { fileId: a.fileId }))).toBe('NOT_FOUND');
    expect(
      (await fetch(a.url, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: new Uint8Array(body) }))
        .status,
    ).toBe(200);
    const ready = (await w.ann.client.ok(CompleteUploadDocument, { fileId: a.fileId })).completeUpload;
    expect(
      code(
        await w.bob.client.request(SendMessageDocument, {
          input: { channelId: w.general.id, text: 'mine', fileIds: [ready.id] },
        }),
      ),
    ).toBe('NOT_FOUND');
  });

  it('a picture that cannot be decoded gets previewStatus FAILED and stays a normal attachment', async () => {
    const jpeg = await sharp(png).jpeg().toBuffer();
    // A real JPEG header, then noise: sniffed as image/jpeg, undecodable.
    const broken = Buffer.concat([jpeg.subarray(0, 600), Buffer.alloc(5_000, 0x55)]);
    const up = await multipart(w.ann.client, broken, 'broken.jpg', 'image/jpeg');
    expect(up.data!.uploadFile).toMatchObject({ status: 'READY', contentType: 'image/jpeg' });
    const id = up.data!.uploadFile.id;
    const sent = await w.ann.client.ok(SendMessageDocument, {
      input: { channelId: w.general.id, text: 'broken picture', fileIds: [id] },
    });
    expect(sent.sendMessage.id).toBeTruthy();
    const info = await eventually(
      async () => (await w.bob.client.ok(FileInfoDocument, { id })).file,
      (f) => f?.previewStatus !== 'PENDING',
    );
    expect(info).toMatchObject({ previewStatus: 'FAILED', thumbnailUrl: null, width: null });
    expect((await fetch(info!.url!)).status).toBe(200);
    // The consumer settled it (no retry loop): its copy of the event is processed.
    expect(await t.app.outbox.lagOf('previews')).toMatchObject({ pending: 0 });
  });

  it('finds messages by the names of their files, and has:file only with real files', async () => {
    const up = await multipart(w.ann.client, Buffer.from('stripes'), 'zebra-inventory.txt', 'text/plain');
    const fileId = up.data!.uploadFile.id;
    const withFile = (
      await w.ann.client.ok(SendMessageDocument, {
        input: { channelId: w.general.id, text: 'see attached', fileIds: [fileId] },
      })
    ).sendMessage;
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'zebra without a file' } });
    const ids = (q: string) =>
      eventually(
        async () => (await w.bob.client.ok(SearchDocument, { query: q })).search.edges.map((e) => e.node.message.id),
        (r) => r.length > 0,
      );
    expect(await ids('inventory')).toEqual([withFile.id]);
    expect(await ids('zebra has:file')).toEqual([withFile.id]);
  });

  it('a member who left a private channel gets no file and no fresh URL; expired uploads are swept', async () => {
    const secret = (
      await w.ann.client.ok(CreateChannelDocument, {
        workspaceId: w.workspace.id,
        name: `secret-${Date.now()}`,
        private: true,
      })
    ).createChannel;
    await w.ann.client.ok(InviteToChannelDocument, { channelId: secret.id, userIds: [w.bob.id] });
    const up = (
      await w.ann.client.ok(CreateUploadDocument, {
        input: { channelId: secret.id, name: 'plan.txt', size: 4, contentType: 'text/plain' },
      })
    ).createUpload;
    await fetch(up.url, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'plan' });
    const file = (await w.ann.client.ok(CompleteUploadDocument, { fileId: up.fileId })).completeUpload;
    // Sending it to another channel is refused: files belong to the channel they were uploaded to.
    expect(
      code(
        await w.ann.client.request(SendMessageDocument, {
          input: { channelId: w.general.id, text: 'x', fileIds: [file.id] },
        }),
      ),
    ).toBe('NOT_FOUND');
    const msg = (
      await w.ann.client.ok(SendMessageDocument, { input: { channelId: secret.id, text: 'x', fileIds: [file.id] } })
    ).sendMessage;
    expect((await w.bob.client.ok(FileInfoDocument, { id: file.id })).file?.url).toBeTruthy();
    await w.bob.client.ok(LeaveChannelDocument, { channelId: secret.id });
    expect((await w.bob.client.ok(FileInfoDocument, { id: file.id })).file).toBeNull();

    // Deleting the message hides the file at once; its bytes go after the retention period.
    await w.ann.client.ok(DeleteMessageDocument, { id: msg.id });
    expect((await w.ann.client.ok(FileInfoDocument, { id: file.id })).file).toBeNull();
    const row = await t.app.db.prisma.file.findUniqueOrThrow({ where: { id: BigInt(file.id) } });
    expect(await t.app.fileStore.stat(row.storageKey)).not.toBeNull();
    const later = new Date(Date.now() + (t.config.files.retentionHours + 1) * 3_600_000);
    const abandoned = (
      await w.ann.client.ok(CreateUploadDocument, {
        input: { channelId: w.general.id, name: 'never.txt', size: 4, contentType: 'text/plain' },
      })
    ).createUpload;
    const swept = await t.app.services.files.sweep(later);
    expect(swept.deleted).toBeGreaterThanOrEqual(1);
    expect(swept.abandoned).toBeGreaterThanOrEqual(1);
    expect(await t.app.fileStore.stat(row.storageKey)).toBeNull();
    expect(await t.app.db.prisma.file.findUnique({ where: { id: BigInt(abandoned.fileId) } })).toBeNull();
    expect(code(await w.ann.client.request(CompleteUploadDocument, { fileId: abandoned.fileId }))).toBe('NOT_FOUND');
  });
});

describeApi('files: the workspace quota', () => {
  let t: TestApp;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'files-quota-'));
    t = await startTestApp({ DATA_DIR: dataDir, FILE_WORKSPACE_QUOTA_BYTES: '10000', OUTBOX_POLL_MS: '50' });
  });
  afterAll(async () => {
    await t?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('counts stored sizes: declared uploads never sent take nothing, and completion checks the stored bytes', async () => {
    const w = await basicWorkspace(t);
    const ch = w.general.id;
    const used = async () =>
      Number(
        (
          await t.app.db.prisma.file.aggregate({
            _sum: { size: true },
            where: { workspaceId: BigInt(w.workspace.id), status: 'READY' },
          })
        )._sum.size ?? 0,
      );
    // 9,000 bytes declared and never uploaded: they count for nothing.
    const idle = await directUpload(w.ann.client, ch, Buffer.alloc(0), 'never.txt', 'text/plain', 9_000);
    expect(idle.created.errors).toBeUndefined();
    const first = await directUpload(w.ann.client, ch, Buffer.alloc(6_000, 65), 'a.txt', 'text/plain');
    expect(first.done!.data!.completeUpload).toMatchObject({ status: 'READY', size: 6_000 });

    // Two uploads of 3,000 both fit when declared (6,000 stored); only the first completed fits.
    const declare = async (name: string) =>
      (
        await w.ann.client.ok(CreateUploadDocument, {
          input: { channelId: ch, name, size: 3_000, contentType: 'text/plain' },
        })
      ).createUpload;
    const [b, c] = [await declare('b.txt'), await declare('c.txt')];
    for (const u of [b, c])
      expect(
        (
          await fetch(u.url, {
            method: 'PUT',
            headers: { 'content-type': 'text/plain' },
            body: new Uint8Array(Buffer.alloc(3_000, 66)),
          })
        ).status,
      ).toBe(200);
    expect((await w.ann.client.ok(CompleteUploadDocument, { fileId: b.fileId })).completeUpload.status).toBe('READY');
    const over = await w.ann.client.request(CompleteUploadDocument, { fileId: c.fileId });
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', reason: 'file/quota_exceeded' });
    const refused = await t.app.db.prisma.file.findUnique({ where: { id: BigInt(c.fileId) } });
    expect(refused).toBeNull();
    expect(await used()).toBe(9_000);

    // Multipart: the size checked and recorded is the one stored.
    const big = await multipartUpload(w.ann.client, ch, Buffer.alloc(1_001, 67), 'd.txt', 'text/plain');
    expect(big.errors?.[0]?.extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', reason: 'file/quota_exceeded' });
    const fits = await multipartUpload(w.ann.client, ch, Buffer.alloc(1_000, 67), 'e.txt', 'text/plain');
    expect(fits.data!.uploadFile).toMatchObject({ status: 'READY', size: 1_000 });
    expect(await used()).toBe(10_000);
    // Nothing of the refused uploads is left in the store: the READY files and the idle declaration's nothing.
    const keys = (await t.app.db.prisma.file.findMany({ where: { workspaceId: BigInt(w.workspace.id) } })).map(
      (f) => f.storageKey,
    );
    const stored = await Promise.all(keys.map((k) => t.app.fileStore.stat(k)));
    expect(stored.filter(Boolean).map((x) => x!.size)).toEqual(expect.arrayContaining([6_000, 3_000, 1_000]));
    expect(stored.filter(Boolean)).toHaveLength(3);
  });
});

/** Direct upload: createUpload, PUT, completeUpload. Returns the PUT's status and the completion's result. */
async function directUpload(
  client: Client,
  channelId: string,
  body: Buffer,
  name: string,
  contentType: string,
  size = body.length,
) {
  const created = await client.request(CreateUploadDocument, { input: { channelId, name, size, contentType } });
  if (created.errors) return { created, put: null, done: null };
  const up = created.data!.createUpload;
  const put = await fetch(up.url, {
    method: up.method,
    headers: Object.fromEntries(up.headers.map((h) => [h.name, h.value])),
    body: new Uint8Array(body),
  });
  const done = await client.request(CompleteUploadDocument, { fileId: up.fileId });
  return { created, up, put, done };
}

/** uploadFile over the GraphQL multipart request spec, as a browser or curl sends it. */
async function multipartUpload(
  client: Client,
  channelId: string,
  body: Buffer,
  name: string,
  type: string,
  csrf = true,
) {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: print(UploadFileDocument), variables: { channelId, file: null } }));
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([new Uint8Array(body)], { type }), name);
  const res = await fetch(client.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${client.token}`, ...(csrf ? { 'x-graphql-yoga-csrf': '1' } : {}) },
    body: form,
  });
  const json = (await res.json()) as {
    data?: { uploadFile: { id: string; name: string; contentType: string; status: string; size: number } } | null;
    errors?: { extensions?: { code?: string; reason?: string } }[];
  };
  return { status: res.status, ...json };
}

/** A PNG signature and IHDR chunk declaring width × height, then an empty IDAT and IEND. */
function pngHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** A one-entry ZIP archive (deflated): small on the wire, large unpacked. */
function zipOf(name: string, content: Buffer): Buffer {
  const data = deflateRawSync(content);
  const n = Buffer.from(name);
  const crc = crc32(content);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(content.length, 24);
  central.writeUInt16LE(n.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + n.length, 12);
  end.writeUInt32LE(30 + n.length + data.length, 16);
  return Buffer.concat([local, n, data, central, n, end]);
}
