import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type Agent } from 'node:https';

/** One JSON (or form) POST with a timeout, over http or https (extra CA allowed); never throws on an HTTP status. */
export function postJson(
  url: string,
  opts: { headers?: Record<string, string>; body: string; timeoutMs: number; agent?: Agent },
): Promise<{ status: number; body: unknown }> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...opts.headers,
          'content-length': Buffer.byteLength(opts.body),
        },
        timeout: opts.timeoutMs,
        ...(u.protocol === 'https:' && opts.agent ? { agent: opts.agent } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 1 << 20) chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? (JSON.parse(text) as unknown) : null;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('push provider timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}
