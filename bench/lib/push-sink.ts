/**
 * A loopback Web Push service for bench:notify, run as a child process (`fork`) so accepting pushes
 * does not share the server's CPU: HTTPS on 127.0.0.1 with the given certificate, POST
 * /push/<id> with a VAPID `Authorization` and an aes128gcm body answers 201 (anything else 400).
 * It does not decrypt: tests/helpers/push-fakes.ts and the push contract tests check the bytes;
 * this one counts. The parent asks `{ type: 'stats' }` and gets accepted/refused counts and the
 * epoch ms of the first and last accepted push.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';

const key = readFileSync(process.env.SINK_KEY_FILE!, 'utf8');
const cert = readFileSync(process.env.SINK_CERT_FILE!, 'utf8');
let accepted = 0;
let refused = 0;
let firstAt = 0;
let lastAt = 0;
const ids = new Set<string>();
let duplicates = 0;

const server = createServer({ key, cert }, (req, res) => {
  let bytes = 0;
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    const id = (req.url ?? '').replace(/^\/push\//, '');
    const ok =
      req.method === 'POST' &&
      /^vapid t=[^,\s]+,\s*k=[A-Za-z0-9_-]+$/.test(req.headers.authorization ?? '') &&
      req.headers['content-encoding'] === 'aes128gcm' &&
      bytes > 0 &&
      id !== '';
    if (!ok) {
      refused++;
      return res.writeHead(400).end();
    }
    const now = Date.now();
    if (!firstAt) firstAt = now;
    lastAt = now;
    accepted++;
    if (ids.has(id)) duplicates++;
    else ids.add(id);
    res.writeHead(201).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port });
});
process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') process.send!({ type: 'stats', accepted, refused, duplicates, firstAt, lastAt });
  if (m.type === 'exit') server.close(() => process.exit(0));
});
