import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback web site for unfurl tests. Pages:
 * - /og/<name>: Open Graph page titled "<name>" (relative og:image)
 * - /title: a page with only <title> and <meta name="description">
 * - /hang: headers never come
 * - /huge: an HTML head that never ends, streamed until the client goes (`hugeWritten` counts bytes)
 * - /loop/<n>: redirects to /loop/<n+1>, for ever
 * - /to-og: one redirect to /og/redirected
 * - /image: image/png (an HTML body, to show the type decides)
 * - /gate: held until release() is called, then an OG page titled "gated"
 */
export async function startUnfurlSite() {
  const hits = new Map<string, number>();
  let hugeWritten = 0;
  let hugeClosed = false;
  const held: ServerResponse[] = [];
  let gateOpen = false;
  const gateWaiters: (() => void)[] = [];
  const ogPage = (title: string) =>
    `<!doctype html><html><head><title>ignored ${title}</title>
<meta property="og:title" content="${title}"><meta property="og:description" content="About ${title} &amp; more">
<meta property="og:image" content="/img/${title}.png"><meta property="og:site_name" content="Loopback">
</head><body><p>hello</p></body></html>`;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const key = path.startsWith('/loop/') ? '/loop' : path;
    hits.set(key, (hits.get(key) ?? 0) + 1);
    if (path.startsWith('/og/')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(ogPage(path.slice(4)));
    } else if (path === '/title') {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<html><head><title>Just a title</title><meta name="description" content="Plain"></head></html>');
    } else if (path === '/hang') {
      held.push(res);
    } else if (path === '/huge') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<html><head><title>Huge</title><meta property="og:title" content="Huge"><!--');
      const chunk = Buffer.alloc(64 * 1024, 'x');
      res.on('close', () => (hugeClosed = true));
      const pump = () => {
        if (hugeClosed || hugeWritten > 64 * 1024 * 1024) return void res.end();
        hugeWritten += chunk.length;
        if (res.write(chunk)) setImmediate(pump);
        else res.once('drain', pump);
      };
      pump();
    } else if (path.startsWith('/loop/')) {
      const n = Number(path.slice(6)) || 0;
      res.writeHead(302, { location: `/loop/${n + 1}` }).end();
    } else if (path === '/to-og') {
      res.writeHead(301, { location: '/og/redirected' }).end();
    } else if (path === '/image') {
      res.writeHead(200, { 'content-type': 'image/png' }).end(ogPage('image'));
    } else if (path === '/gate') {
      const answer = () => res.writeHead(200, { 'content-type': 'text/html' }).end(ogPage('gated'));
      if (gateOpen) answer();
      else gateWaiters.push(answer);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    hits: (path: string) => hits.get(path) ?? 0,
    huge: () => ({ written: hugeWritten, closed: hugeClosed }),
    release() {
      gateOpen = true;
      for (const w of gateWaiters.splice(0)) w();
    },
    async close() {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
