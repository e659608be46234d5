import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isDomainError, type ErrorCode } from '../domain/errors.js';
import type { IncomingWebhooksService } from '../domain/webhooks/incoming.service.js';
import type { HttpRouter } from './http.js';
import type { LimitDecision } from './rate-limit.js';

const MAX_BODY = 64 * 1024;

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
  SERVICE_UNAVAILABLE: 503,
};

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Reads at most `max` bytes; null when the body is larger. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > max) return resolve(null);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(null);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * POST /hooks/<secret> with JSON `{ "text": "…" }`: posts as the hook's bot. Every refusal is a
 * 4xx with a readable `error` (bad JSON, oversize, unknown or revoked hook, rate limited).
 */
export function registerHookRoutes(
  router: HttpRouter,
  deps: { hooks: IncomingWebhooksService; limit: (hookId: string) => Promise<LimitDecision>; log: Logger },
) {
  router.route('POST', '/hooks/:secret', async (req, res, route) => {
    const hook = await deps.hooks.hookBySecret(route.params['secret'] ?? '');
    if (!hook) return send(res, 404, { ok: false, error: 'no such webhook (unknown or revoked)' });
    const decision = await deps.limit(hook.id.toString());
    if (!decision.allowed) {
      const seconds = Math.max(1, Math.ceil(decision.resetMs / 1000));
      return send(
        res,
        429,
        { ok: false, error: `rate limited: retry in ${seconds} s` },
        { 'retry-after': String(seconds) },
      );
    }
    const raw = await readBody(req, MAX_BODY);
    if (raw === null) return send(res, 413, { ok: false, error: `body larger than ${MAX_BODY} bytes` });
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return send(res, 400, { ok: false, error: 'body is not JSON; send {"text": "..."}' });
    }
    if (!body || typeof body !== 'object' || Array.isArray(body))
      return send(res, 400, { ok: false, error: 'body must be a JSON object: {"text": "..."}' });
    const key = req.headers['idempotency-key'];
    try {
      const message = await deps.hooks.postToHook(
        hook,
        (body as { text?: unknown }).text,
        typeof key === 'string' ? key : null,
      );
      send(res, 200, { ok: true, messageId: message.id.toString(), channelId: message.channelId.toString() });
    } catch (err) {
      if (!isDomainError(err)) throw err;
      deps.log.debug({ err, hook: hook.id.toString() }, 'incoming webhook refused');
      send(res, STATUS[err.code] ?? 400, { ok: false, error: err.message, code: err.code });
    }
  });
}
