import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import FindMyWay from 'find-my-way';
import type { Logger } from 'pino';

/** Route parameters (`:id` in the path) and the parsed query string. */
export interface RouteRequest {
  params: Record<string, string | undefined>;
  query: URLSearchParams;
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, route: RouteRequest) => void | Promise<void>;

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';

export interface HttpRouter {
  /**
   * Registers a handler: `router.route('GET', '/files/:id/content', handler)`. Paths use
   * find-my-way syntax (`:param`, `*`). A handler that throws or rejects gets a 500 JSON answer
   * (logged) unless it already started its response.
   */
  route(method: HttpMethod | HttpMethod[], path: string, handler: RouteHandler): void;
  /** The request listener for `http.createServer(router.listener)`. */
  readonly listener: RequestListener;
}

/**
 * The HTTP seam: one request listener in front of every route. `/graphql` and `/health` go to
 * yoga (registered in app.ts); other modules add their own (`/files/...`, `/hooks/...`). Unknown
 * paths get a 404 JSON body without reaching yoga.
 */
export function createHttpRouter(log: Logger): HttpRouter {
  const router = FindMyWay({
    ignoreTrailingSlash: true,
    maxParamLength: 200,
    defaultRoute: (_req, res) => sendJson(res, 404, { error: 'not found' }),
    onBadUrl: (_path, _req, res) => sendJson(res, 400, { error: 'bad url' }),
  });
  return {
    route(method, path, handler) {
      router.on(method, path, (req, res, params) => {
        const q = req.url?.indexOf('?') ?? -1;
        const route: RouteRequest = {
          params,
          query: new URLSearchParams(q >= 0 ? req.url!.slice(q + 1) : ''),
        };
        let result: void | Promise<void>;
        try {
          result = handler(req, res, route);
        } catch (err) {
          fail(res, err);
          return;
        }
        if (result instanceof Promise) result.catch((err: unknown) => fail(res, err));
      });
    },
    listener: (req, res) => {
      router.lookup(req, res);
    },
  };

  function fail(res: ServerResponse, err: unknown) {
    log.error({ err }, 'http route failed');
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    else res.destroy();
  }
}

/** Writes a JSON response with `nosniff`. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}
