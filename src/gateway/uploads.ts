/**
 * GraphQL multipart requests (https://github.com/jaydenseric/graphql-multipart-request-spec),
 * parsed here, in front of yoga, with a streaming parser (@fastify/busboy), so a file is never
 * held whole in memory: yoga's own parser (Request.formData()) buffers every part first.
 *
 * The spec puts `operations` and `map` before the files. The request is checked before any byte
 * of a file is read (the CSRF header, the declared length, a signed-in viewer), then each file
 * part is streamed straight into the file store by the files service (`stageUpload`: size cap
 * while streaming, first bytes kept for sniffing). yoga then runs the operation as a JSON request
 * whose `File` variables are placeholders `{ stagedUpload: <ref> }`; the resolver claims the staged
 * upload through the request context (`GraphQLContext.uploads`) and finishes it with the files
 * service (checks, READY). Staged uploads no resolver claimed are deleted when the request ends.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Busboy } from '@fastify/busboy';
import type { Logger } from 'pino';
import { DomainError, isDomainError } from '../domain/errors.js';
import type { Viewer } from '../domain/viewer.js';
import type { StagedUpload } from '../domain/files/files.service.js';
import type { StagedUploads } from '../graphql/context.js';
import { sendJson } from './http.js';

/** File parts per request. */
export const MAX_FILES_PER_REQUEST = 10;
/** Room for `operations`, `map` and the part headers beside the files. */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
const MAX_FIELD_BYTES = 1024 * 1024;

export interface MultipartDeps {
  /** FILE_MAX_BYTES: the cap of one file. */
  maxFileBytes: number;
  /** Headers, one of which proves the request is not a cross-site form post. */
  csrfHeaders: string[];
  viewerFor(token: string | null): Promise<Viewer | null>;
  bearer(header: string | undefined): string | null;
  stage(viewer: Viewer, part: { name: string; type: string; stream: Readable }): Promise<StagedUpload>;
  drop(staged: StagedUpload): Promise<void>;
  /** yoga's fetch handler; the server context carries `req`, `res` and `uploads`. */
  graphql(request: Request, serverContext: Record<string, unknown>): Promise<Response> | Response;
  log: Logger;
}

export function isMultipart(req: IncomingMessage): boolean {
  return /^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '');
}

/** A client mistake found while reading the request (answered 400 with BAD_REQUEST). */
const badRequest = (message: string) => new DomainError('BAD_USER_INPUT', 'upload/bad_multipart', message);

const STATUS: Record<string, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  SERVICE_UNAVAILABLE: 503,
};

export function createMultipartHandler(deps: MultipartDeps) {
  // As before yoga: one file's worth plus room for the rest, checked on the declared length and
  // again on the bytes received (a chunked body declares none).
  const maxBody = deps.maxFileBytes + MULTIPART_OVERHEAD_BYTES;
  const tooLarge = () =>
    new DomainError('PAYLOAD_TOO_LARGE', 'upload/too_large', `request body exceeds ${maxBody} bytes`, {
      max: maxBody,
    });

  return async function handleMultipart(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refuse = (err: unknown) => {
      if (!res.headersSent) {
        const domain = isDomainError(err) ? err : null;
        if (!domain) deps.log.error({ err }, 'multipart upload failed');
        const body = domain
          ? { message: domain.message, extensions: { code: domain.code, reason: domain.reason, ...domain.details } }
          : { message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
        sendJson(res, domain ? (STATUS[domain.code] ?? 400) : 500, { errors: [body] });
      }
      // Read what the client is still sending (bounded) so it sees the answer, then let the socket go.
      let drained = 0;
      req.on('data', (c: Buffer) => {
        drained += c.length;
        if (drained > maxBody) req.destroy();
      });
      req.resume();
    };

    if (!deps.csrfHeaders.some((h) => req.headers[h] !== undefined))
      return refuse(
        new DomainError(
          'FORBIDDEN',
          'upload/csrf',
          `multipart requests need one of the headers ${deps.csrfHeaders.join(', ')} (CSRF prevention)`,
        ),
      );
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > maxBody) return refuse(tooLarge());
    const viewer = await deps.viewerFor(deps.bearer(req.headers.authorization));
    if (!viewer) return refuse(new DomainError('UNAUTHENTICATED', 'auth/required', 'sign in to upload files'));

    const staged = new Map<string, StagedUpload>();
    const claimed = new Set<string>();
    const byField = new Map<string, StagedUpload>();
    try {
      const parsed = await parse(req, viewer, byField);
      const refs = new Map<string, string>();
      for (const [field, paths] of Object.entries(parsed.map)) {
        const s = byField.get(field);
        if (!s) throw badRequest(`map names file "${field}", which the request does not contain`);
        const ref = randomBytes(16).toString('hex');
        refs.set(field, ref);
        staged.set(ref, s);
        for (const path of paths) setPath(parsed.operations, path, { stagedUpload: ref });
      }
      const uploads: StagedUploads = {
        claim(ref) {
          const s = staged.get(ref);
          if (!s || claimed.has(ref)) return null;
          claimed.add(ref);
          return s;
        },
      };
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined || ['content-type', 'content-length', 'transfer-encoding', 'expect'].includes(k)) continue;
        headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      }
      headers.set('content-type', 'application/json');
      const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/graphql'}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(parsed.operations),
      });
      const response = await deps.graphql(request, { req, res, uploads });
      const out = Buffer.from(await response.arrayBuffer());
      const outHeaders: Record<string, string> = {};
      response.headers.forEach((v, k) => (outHeaders[k] = v));
      outHeaders['content-length'] = String(out.length);
      res.writeHead(response.status, outHeaders);
      res.end(out);
    } catch (err) {
      refuse(err);
    } finally {
      // Staged but never claimed (a refused request, an operation that did not use it): deleted.
      const orphans = [...byField.values()].filter((s) => ![...staged].some(([r, v]) => v === s && claimed.has(r)));
      await Promise.all(
        orphans.map((s) => deps.drop(s).catch((err: unknown) => deps.log.warn({ err }, 'drop failed'))),
      );
    }
  };

  /** Reads `operations`, `map`, then streams each mapped file part into the store, in order. */
  function parse(req: IncomingMessage, viewer: Viewer, byField: Map<string, StagedUpload>) {
    return new Promise<{ operations: unknown; map: Record<string, string[]> }>((resolve, reject) => {
      let operations: unknown;
      let map: Record<string, string[]> | null = null;
      let failed = false;
      let current: Readable | null = null;
      let chain: Promise<void> = Promise.resolve();
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        req.unpipe(bb);
        current?.destroy();
        reject(err);
      };
      let bb: ReturnType<typeof Busboy>;
      try {
        bb = Busboy({
          headers: req.headers as { 'content-type': string },
          limits: {
            fieldSize: MAX_FIELD_BYTES,
            fields: 10,
            files: MAX_FILES_PER_REQUEST,
            // A backstop only: stageUpload stops a file at FILE_MAX_BYTES while streaming.
            fileSize: deps.maxFileBytes + 1,
            headerPairs: 20,
          },
        });
      } catch {
        return reject(badRequest('not a valid multipart/form-data request (no boundary?)'));
      }
      bb.on('field', (name, value, _nt, truncated) => {
        if (failed) return;
        if (truncated) return fail(badRequest(`field "${name}" is longer than ${MAX_FIELD_BYTES} bytes`));
        try {
          if (name === 'operations') operations = JSON.parse(value);
          else if (name === 'map') map = parseMap(JSON.parse(value));
        } catch (err) {
          fail(isDomainError(err) ? err : badRequest(`field "${name}" is not valid JSON`));
        }
      });
      bb.on('file', (field, stream, filename, _enc, mime) => {
        if (failed) return void stream.resume();
        if (operations === undefined || !map)
          return fail(badRequest('the multipart request spec puts operations and map before the files'));
        if (!(field in map) || byField.has(field)) return void stream.resume(); // not referenced: skipped
        current = stream;
        chain = chain.then(async () => {
          if (failed) return void stream.resume();
          try {
            byField.set(field, await deps.stage(viewer, { name: filename, type: mime, stream }));
          } catch (err) {
            stream.resume();
            fail(err as Error);
          }
        });
      });
      bb.on('filesLimit', () => fail(badRequest(`at most ${MAX_FILES_PER_REQUEST} files per request`)));
      bb.on('fieldsLimit', () => fail(badRequest('too many fields')));
      bb.on('error', (err: Error) => fail(badRequest(`malformed multipart body: ${err.message}`)));
      bb.on('finish', () => {
        void chain.then(() => {
          if (failed) return;
          if (operations === undefined || !map) return fail(badRequest('operations and map are required'));
          resolve({ operations, map });
        });
      });
      let received = 0;
      req.on('data', (c: Buffer) => {
        received += c.length;
        if (received > maxBody) fail(tooLarge());
      });
      // The client went away mid-file: the part being stored fails, and nothing of it is kept.
      req.on('close', () => {
        if (!req.complete) fail(new DomainError('BAD_USER_INPUT', 'upload/aborted', 'the request was aborted'));
      });
      req.pipe(bb);
    });
  }
}

function parseMap(raw: unknown): Record<string, string[]> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('map must be an object');
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!Array.isArray(v) || v.length === 0 || !v.every((p) => typeof p === 'string'))
      throw badRequest(`map["${k}"] must be a non-empty list of paths`);
    out[k] = v;
  }
  return out;
}

/** Puts `value` at an object path like `variables.file` or `0.variables.files.1`. */
function setPath(root: unknown, path: string, value: unknown) {
  const keys = path.split('.');
  let node = root as Record<string, unknown> | unknown[];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype' || !node || typeof node !== 'object')
      throw badRequest(`map path "${path}" does not point into operations`);
    if (i === keys.length - 1) {
      (node as Record<string, unknown>)[key] = value;
      return;
    }
    node = (node as Record<string, unknown>)[key] as Record<string, unknown>;
  }
}
