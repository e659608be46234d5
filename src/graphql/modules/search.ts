import { builder } from '../builder.js';
import { ChannelRef, MessageRef } from '../refs.js';
import { PageInfo, idString, viewerOf } from './common.js';
import { idArg, idArgs } from '../../domain/validate.js';
import type { SearchPage, SearchResultItem } from '../../domain/search/search.service.js';

export const SearchSortEnum = builder.enumType('SearchSort', {
  values: {
    RELEVANCE: {
      description: 'Best matches first (the newest 500 matches are ranked; older ones follow, newest first)',
    },
    NEWEST: { description: 'Newest first' },
  } as const,
});

const SearchFilter = builder.inputType('SearchFilter', {
  description: 'Typed filters; they combine (AND) with each other and with the modifiers typed in the query',
  fields: (t) => ({
    workspaceId: t.id({ description: 'Only this workspace' }),
    channelIds: t.idList({ description: 'Any of these channels (channels you cannot read match nothing)' }),
    fromUserIds: t.idList({ description: 'Sent by any of these users' }),
    mentionsUserIds: t.idList({ description: 'Mentioning any of these users' }),
    hasFile: t.boolean({ description: 'true: with an attached file; false: without' }),
    hasLink: t.boolean({ description: 'true: with a link; false: without' }),
    isThread: t.boolean({ description: 'true: thread replies and thread roots with replies; false: the others' }),
    after: t.field({ type: 'DateTime', description: 'Sent at or after this instant' }),
    before: t.field({ type: 'DateTime', description: 'Sent before this instant' }),
  }),
});

/** A piece of a result's snippet, as the search service returns it. */
type SnippetPart = SearchResultItem['snippet'][number];

const SnippetPartRef = builder.objectRef<SnippetPart>('SnippetPart').implement({
  description: 'A piece of a snippet: plain text, or a part that matched the query',
  fields: (t) => ({
    text: t.exposeString('text'),
    highlighted: t.exposeBoolean('highlighted'),
  }),
});

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const SearchResultRef = builder.objectRef<SearchResultItem>('SearchResult').implement({
  description: 'A message that matched, with the channel it is in and an excerpt around the matches',
  fields: (t) => ({
    message: t.field({ type: MessageRef, resolve: (r) => r.message }),
    channel: t.field({
      type: ChannelRef,
      resolve: async (r, _a, ctx) => (await ctx.loaders.channel.load(r.message.channelId))!,
    }),
    threadRootId: t.id({
      nullable: true,
      description: 'Set when the match is a thread reply',
      resolve: (r) => idString(r.message.threadRootId),
    }),
    snippet: t.string({
      description: 'The excerpt as HTML-safe text: everything escaped, matches wrapped in <mark>…</mark>',
      resolve: (r) =>
        r.snippet.map((p) => (p.highlighted ? `<mark>${escapeHtml(p.text)}</mark>` : escapeHtml(p.text))).join(''),
    }),
    snippetParts: t.field({
      type: [SnippetPartRef],
      description: 'The same excerpt as parts, for clients that render it themselves',
      resolve: (r) => r.snippet,
    }),
    score: t.float({
      nullable: true,
      description: 'Relevance score (sort RELEVANCE only; comparable within one search)',
      resolve: (r) => r.score,
    }),
  }),
});

const SearchResultEdge = builder.objectRef<SearchResultItem>('SearchResultEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: SearchResultRef, resolve: (r) => r }),
  }),
});

const SearchResultConnection = builder.objectRef<SearchPage>('SearchResultConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [SearchResultEdge], resolve: (p) => p.results }),
    pageInfo: t.field({
      type: PageInfo,
      resolve: (p) => ({
        hasNextPage: p.hasNextPage,
        hasPreviousPage: p.hasPreviousPage,
        startCursor: p.results[0]?.cursor ?? null,
        endCursor: p.results.at(-1)?.cursor ?? null,
      }),
    }),
    totalCount: t.int({
      description: 'Matches you may read, counted up to 1,000 (see totalCountIsExact)',
      resolve: async (p) => (await p.total()).count,
    }),
    totalCountIsExact: t.boolean({
      description: 'false when counting stopped at 1,000: there are more',
      resolve: async (p) => (await p.total()).exact,
    }),
  }),
});

builder.queryFields((t) => ({
  search: t.field({
    type: SearchResultConnection,
    description:
      'Full-text search over every message you may read (channels, DMs and thread replies). Query syntax: words, ' +
      '"exact phrase", -excluded, in:#channel, in:@user (DMs), from:@user, from:me, mentions:@user, has:file, has:link, ' +
      "is:thread, before:YYYY-MM-DD, after:YYYY-MM-DD, on:YYYY-MM-DD (UTC days). A Relay connection over the sort's order: " +
      'first and after: pageInfo.endCursor page forward, last and before: pageInfo.startCursor backward. Cursors are opaque and ' +
      'belong to one query, filter and sort',
    args: {
      query: t.arg.string({ required: true }),
      filter: t.arg({ type: SearchFilter }),
      sort: t.arg({ type: SearchSortEnum, defaultValue: 'RELEVANCE' }),
      first: t.arg.int(),
      after: t.arg.string(),
      last: t.arg.int(),
      before: t.arg.string(),
    },
    resolve: (_r, args, ctx) => {
      const f = args.filter;
      return ctx.services.search.search(viewerOf(ctx), {
        query: args.query,
        sort: args.sort === 'NEWEST' ? 'newest' : 'relevance',
        first: args.first,
        after: args.after,
        last: args.last,
        before: args.before,
        filter: f
          ? {
              workspaceId: f.workspaceId ? idArg(f.workspaceId, 'filter.workspaceId') : null,
              channelIds: f.channelIds ? idArgs(f.channelIds, 'filter.channelIds') : null,
              fromUserIds: f.fromUserIds ? idArgs(f.fromUserIds, 'filter.fromUserIds') : null,
              mentionsUserIds: f.mentionsUserIds ? idArgs(f.mentionsUserIds, 'filter.mentionsUserIds') : null,
              hasFile: f.hasFile,
              hasLink: f.hasLink,
              isThread: f.isThread,
              after: f.after,
              before: f.before,
            }
          : null,
      });
    },
  }),
}));
