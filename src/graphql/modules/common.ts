import { GraphQLError, Kind } from 'graphql';
import type { ObjectRef } from '@pothos/core';
import { builder } from '../builder.js';
import { requireViewer, type Viewer } from '../../domain/viewer.js';
import type { GraphQLContext } from '../context.js';

/** ISO-8601 date-times; input must carry a time zone. */
builder.scalarType('DateTime', {
  description: 'An ISO-8601 date-time in UTC, e.g. 2026-11-30T12:00:00.000Z',
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString()),
  parseValue: (value) => parseDate(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING)
      throw new GraphQLError('DateTime must be a string', { extensions: { code: 'BAD_USER_INPUT' } });
    return parseDate(ast.value);
  },
});

function parseDate(value: unknown): Date {
  const d =
    typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T.+(Z|[+-]\d{2}:\d{2})$/.test(value) ? new Date(value) : null;
  if (!d || Number.isNaN(d.getTime())) {
    throw new GraphQLError('DateTime must be an ISO-8601 string with a time zone', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return d;
}

export const PageInfo = builder
  .objectRef<{ hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null }>(
    'PageInfo',
  )
  .implement({
    fields: (t) => ({
      hasNextPage: t.exposeBoolean('hasNextPage'),
      hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
      startCursor: t.exposeString('startCursor', { nullable: true }),
      endCursor: t.exposeString('endCursor', { nullable: true }),
    }),
  });

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** Builds a Relay connection value from a page of nodes (the domain's paging decides the flags). */
export function toConnection<T>(
  page: { nodes: T[]; hasNextPage: boolean; hasPreviousPage: boolean },
  cursorOf: (node: T) => string,
): Connection<T> {
  const edges = page.nodes.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/**
 * The Relay arguments of a list whose cursors are opaque strings (pageInfo cursors of the same
 * list); the domain's paging (domain/paging.ts) validates and decodes them.
 */
export const connectionArgs = (noun: string) =>
  builder.args((t) => ({
    first: t.int({
      description: `How many ${noun}s from the start of the list (after \`after\`); 1 to 100, default 50`,
    }),
    after: t.string({ description: `Only ${noun}s after this cursor (pageInfo.endCursor of the previous page)` }),
    last: t.int({
      description: `How many ${noun}s from the end of the list (before \`before\`); 1 to 100; not with first`,
    }),
    before: t.string({ description: `Only ${noun}s before this cursor (pageInfo.startCursor of the next page)` }),
  }));

/** Declares `<Name>Connection` and `<Name>Edge` types for a node type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function connectionType<T>(name: string, node: ObjectRef<any, T>) {
  const Edge = builder.objectRef<{ cursor: string; node: T }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.field({ type: node, resolve: (e) => e.node as never }),
    }),
  });
  return builder.objectRef<Connection<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [Edge], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfo, resolve: (c) => c.pageInfo }),
    }),
  });
}

export const viewerOf = (ctx: GraphQLContext): Viewer => requireViewer(ctx.viewer);

/** For resolvers whose answer depends on who asks: marks the execution as per-viewer. */
export function personalViewer(ctx: GraphQLContext): Viewer | null {
  ctx.viewerDependency.used = true;
  return ctx.viewer;
}

export const idString = (id: bigint | null | undefined): string | null =>
  id === null || id === undefined ? null : id.toString();

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
