/**
 * bench:files — concurrent uploads through each path on the fs store, against a real server
 * process (`src/main.ts`, embedded database, its own DATA_DIR), measuring throughput and the
 * server's peak RSS above its idle baseline (sampled from /proc every 50 ms), and the time from
 * upload to a READY thumbnail.
 *
 *   npm run bench:files                      # 20 × 50 MiB per path (the numbers)
 *   FILES=4 SIZE_MIB=10 npm run bench:files  # a quick run
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

const FILES = Number(process.env.FILES ?? 20);
const SIZE = Number(process.env.SIZE_MIB ?? 50) * 1024 * 1024;
const PORT = Number(process.env.BENCH_PORT ?? 4790);
const base = `http://127.0.0.1:${PORT}`;

const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

async function gql<T>(token: string | null, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await r.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

/** A body of `n` bytes made on the fly (the client holds no more than a chunk). */
function body(n: number): ReadableStream<Uint8Array> {
  let sent = 0;
  const chunk = new Uint8Array(256 * 1024).fill(42);
  return new ReadableStream({
    pull(c) {
      if (sent >= n) return c.close();
      const len = Math.min(chunk.length, n - sent);
      sent += len;
      c.enqueue(len === chunk.length ? chunk : chunk.subarray(0, len));
    },
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-files-'));
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      DATA_DIR: dir,
      PORT: String(PORT),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      FILE_MAX_BYTES: String(SIZE * 2),
      RATE_LIMITS_ENABLED: 'false',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The server's own warnings and errors (LOG_LEVEL=warn) are shown: a failed upload says why.
  server.stdout.on('data', (d: Buffer) => {
    if (!d.toString().includes('ready at')) process.stderr.write(d);
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout.on('data', (d: Buffer) => d.toString().includes('ready at') && resolve());
    server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(server.pid!))), 50);
  try {
    const signUp = await gql<{ signUp: { token: string } }>(
      null,
      'mutation($e: String!) { signUp(email: $e, password: "correct horse", name: "Bench") { token } }',
      { e: `bench-${Date.now()}@example.com` },
    );
    const token = signUp.signUp.token;
    const ws = await gql<{ createWorkspace: { channels: { id: string; name: string }[] } }>(
      token,
      'mutation { createWorkspace(name: "Bench") { channels { id name } } }',
    );
    const channelId = ws.createWorkspace.channels.find((c) => c.name === 'general')!.id;

    const direct = async () => {
      const { createUpload: u } = await gql<{
        createUpload: { fileId: string; url: string; headers: { name: string; value: string }[] };
      }>(token, 'mutation($i: CreateUploadInput!) { createUpload(input: $i) { fileId url headers { name value } } }', {
        i: { channelId, name: 'blob.bin', size: SIZE, contentType: 'application/octet-stream' },
      });
      const put = await fetch(u.url, {
        method: 'PUT',
        headers: { ...Object.fromEntries(u.headers.map((h) => [h.name, h.value])), 'content-length': String(SIZE) },
        body: body(SIZE),
        duplex: 'half',
      } as RequestInit);
      if (put.status !== 200) throw new Error(`PUT ${put.status}`);
      await gql(token, 'mutation($f: ID!) { completeUpload(fileId: $f) { id } }', { f: u.fileId });
    };
    const multipart = async () => {
      const form = new FormData();
      form.set(
        'operations',
        JSON.stringify({
          query: 'mutation($c: ID!, $f: File!) { uploadFile(channelId: $c, file: $f) { id } }',
          variables: { c: channelId, f: null },
        }),
      );
      form.set('map', JSON.stringify({ 0: ['variables.f'] }));
      form.set('0', new Blob([new Uint8Array(SIZE).fill(42)], { type: 'application/octet-stream' }), 'blob.bin');
      const r = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'x-graphql-yoga-csrf': '1' },
        body: form,
      });
      const b = (await r.json()) as { errors?: unknown };
      if (b.errors) throw new Error(JSON.stringify(b.errors));
    };

    const rows: string[] = [];
    for (const [name, one] of [
      ['direct (presigned PUT)', direct],
      ['multipart (uploadFile)', multipart],
    ] as const) {
      // Longer than the server's keep-alive timeout (5 s): the previous phase's idle connections are
      // closed first, so no upload starts writing on a socket the server is just closing (EPIPE).
      await new Promise((r) => setTimeout(r, 6_000));
      const baseline = rssOf(server.pid!);
      peak = baseline;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: FILES }, () => one()));
      const s = (performance.now() - t0) / 1000;
      const mb = (FILES * SIZE) / 1e6;
      rows.push(
        `| ${name} | ${FILES} × ${SIZE / 1024 / 1024} MiB | ${(mb / s).toFixed(0)} MB/s | ${(baseline / 1e6).toFixed(0)} MB | +${((peak - baseline) / 1e6).toFixed(0)} MB |`,
      );
    }

    // Thumbnail time: a 4000×3000 JPEG, from completeUpload to previewStatus READY (polled every 20 ms).
    const jpeg = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#3a6' } })
      .jpeg()
      .toBuffer();
    const { createUpload: u } = await gql<{ createUpload: { fileId: string; url: string } }>(
      token,
      'mutation($i: CreateUploadInput!) { createUpload(input: $i) { fileId url } }',
      { i: { channelId, name: 'photo.jpg', size: jpeg.length, contentType: 'image/jpeg' } },
    );
    await fetch(u.url, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(jpeg) });
    await gql(token, 'mutation($f: ID!) { completeUpload(fileId: $f) { id } }', { f: u.fileId });
    const t0 = performance.now();
    for (;;) {
      const r = await gql<{ file: { previewStatus: string } }>(
        token,
        'query($f: ID!) { file(id: $f) { previewStatus } }',
        {
          f: u.fileId,
        },
      );
      if (r.file.previewStatus !== 'PENDING') break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const thumbMs = performance.now() - t0;

    console.log('| path | files | throughput | server RSS idle | peak RSS growth |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    console.log(`\nthumbnails (360 + 720 WebP) of a 4000×3000 JPEG: ${thumbMs.toFixed(0)} ms after completeUpload`);
  } finally {
    clearInterval(sampler);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
