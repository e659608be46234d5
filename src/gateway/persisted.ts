import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { ConfigError } from '../config.js';
import type { Viewer } from '../domain/viewer.js';

/**
 * Persisted (trusted) documents and automatic persisted queries (APQ), one policy for HTTP and
 * the WebSocket:
 * - the manifests (`PERSISTED_DOCUMENTS`, written by `npm run codegen`) map sha256 → document;
 * - bot and partner credentials run only manifest documents (`documentId`, or
 *   `extensions.persistedQuery.sha256Hash`); user sessions and anonymous callers run any document
 *   unless `PERSISTED_ONLY=true`;
 * - callers allowed to send text may register it under its sha256 (APQ) and later send the hash alone.
 */

export interface PersistedConfig {
  /** Manifest files ({ "<sha256>": "<document>" }), merged in order. */
  manifests: string[];
  /** User sessions too may run only persisted documents. */
  persistedOnly: boolean;
  /** How many APQ registrations this process remembers (least recently used are dropped). */
  apqMax: number;
}

export type CallerOf = (request: Request) => Promise<Viewer | null>;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Loads and merges manifests; a manifest whose key is not the sha256 of its document is refused. */
export function loadManifests(paths: string[]): Map<string, string> {
  const documents = new Map<string, string>();
  for (const path of paths) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`PERSISTED_DOCUMENTS: cannot read ${path} (${(err as Error).message})`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new ConfigError(`PERSISTED_DOCUMENTS: ${path} is not a { hash: document } object`);
    for (const [hash, text] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof text !== 'string' || sha256(text) !== normalizeId(hash))
        throw new ConfigError(`PERSISTED_DOCUMENTS: ${path}: entry ${hash} is not the sha256 of its document`);
      documents.set(normalizeId(hash), text);
    }
  }
  return documents;
}

/** `sha256:<hex>` and `<hex>` name the same document. */
const normalizeId = (id: string) => (id.startsWith('sha256:') ? id.slice(7) : id).toLowerCase();

/** Who must send persisted documents only: bots and partner keys always; users when PERSISTED_ONLY. */
export function persistedOnlyFor(viewer: Viewer | null, config: PersistedConfig): boolean {
  if (viewer && viewer.kind !== 'user') return true;
  return config.persistedOnly;
}

export const persistedErrors = {
  notFound: () =>
    new GraphQLError('PersistedQueryNotFound', {
      extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 404 } },
    }),
  required: () =>
    new GraphQLError(
      'This caller may run only persisted documents: send documentId (or extensions.persistedQuery.sha256Hash) of a document in the manifest, without query text',
      { extensions: { code: 'PERSISTED_QUERY_REQUIRED', http: { status: 403 } } },
    ),
  missing: () =>
    new GraphQLError('Must provide query string, documentId or extensions.persistedQuery.sha256Hash', {
      extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
    }),
  mismatch: () =>
    new GraphQLError('provided sha256Hash does not match the query text', {
      extensions: { code: 'PERSISTED_QUERY_HASH_MISMATCH', http: { status: 400 } },
    }),
};

interface ParamsLike {
  query?: string | null;
  documentId?: unknown;
  extensions?: Record<string, unknown> | null;
}

/** The persisted id a request names: `documentId` (body, GET parameter) or APQ's sha256Hash. */
function persistedIdOf(params: ParamsLike, url?: string): string | null {
  if (typeof params.documentId === 'string' && params.documentId) return normalizeId(params.documentId);
  if (url) {
    const q = url.indexOf('?');
    const fromUrl = q >= 0 ? new URLSearchParams(url.slice(q + 1)).get('documentId') : null;
    if (fromUrl) return normalizeId(fromUrl);
  }
  const pq = params.extensions?.['persistedQuery'] as { sha256Hash?: unknown } | undefined;
  return typeof pq?.sha256Hash === 'string' ? normalizeId(pq.sha256Hash) : null;
}

/** A bounded LRU of APQ registrations (hash → text). */
function createApqStore(max: number) {
  const map = new Map<string, string>();
  return {
    get(hash: string): string | undefined {
      const text = map.get(hash);
      if (text !== undefined) {
        map.delete(hash);
        map.set(hash, text);
      }
      return text;
    },
    set(hash: string, text: string) {
      map.delete(hash);
      map.set(hash, text);
      if (map.size > max) map.delete(map.keys().next().value!);
    },
  };
}

export function createPersistedDocuments(config: PersistedConfig) {
  const manifest = loadManifests(config.manifests);
  const apq = createApqStore(config.apqMax);

  /**
   * The document text to run for these params and this caller, or the error to answer with.
   * Query text with an APQ hash registers it (after checking the hash); a hash alone looks up the
   * manifest, then (for callers that may send text) the APQ registrations.
   */
  function resolve(viewer: Viewer | null, params: ParamsLike, url?: string): { query: string } | GraphQLError {
    const id = persistedIdOf(params, url);
    const only = persistedOnlyFor(viewer, config);
    if (params.query) {
      if (only) return persistedErrors.required();
      if (id) {
        if (sha256(params.query) !== id) return persistedErrors.mismatch();
        if (!manifest.has(id)) apq.set(id, params.query);
      }
      return { query: params.query };
    }
    if (!id) return persistedErrors.missing();
    const text = manifest.get(id) ?? (only ? undefined : apq.get(id));
    return text === undefined ? persistedErrors.notFound() : { query: text };
  }

  /**
   * yoga plugins: APQ registration (text + hash, checked), then yoga's persisted-operations plugin
   * with this policy (who may send text, where ids are looked up).
   */
  function plugins(callerOf: CallerOf): Plugin[] {
    const register: Plugin = {
      async onParams({ params, request }) {
        const p = params as GraphQLParams & ParamsLike;
        const id = p.query ? persistedIdOf(p) : null;
        if (!id || persistedOnlyFor(await callerOf(request), config)) return;
        if (sha256(p.query!) !== id) throw persistedErrors.mismatch();
        if (!manifest.has(id)) apq.set(id, p.query!);
      },
    };
    return [
      register,
      usePersistedOperations({
        allowArbitraryOperations: async (request) => !persistedOnlyFor(await callerOf(request), config),
        extractPersistedOperationId: (params, request) => persistedIdOf(params as ParamsLike, request.url),
        getPersistedOperation: async (id, request) =>
          manifest.get(id) ?? (persistedOnlyFor(await callerOf(request), config) ? null : (apq.get(id) ?? null)),
        customErrors: {
          notFound: () => persistedErrors.notFound(),
          keyNotFound: () => persistedErrors.missing(),
          persistedQueryOnly: () => persistedErrors.required(),
        },
      }),
    ];
  }

  return { resolve, plugins, size: () => manifest.size };
}

export type PersistedDocuments = ReturnType<typeof createPersistedDocuments>;
