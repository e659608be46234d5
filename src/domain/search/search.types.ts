/** Search: the inputs and results of the search service, and the progress of a reindex. */
import type { Message } from '../../generated/prisma/client.js';
import type { ServiceDeps } from '../deps.js';
import type { IndexCount, SearchSortKind, SnippetPart } from '../../infra/search/search-index.port.js';

export interface SearchFilterInput {
  workspaceId?: bigint | null;
  channelIds?: bigint[] | null;
  fromUserIds?: bigint[] | null;
  mentionsUserIds?: bigint[] | null;
  hasFile?: boolean | null;
  hasLink?: boolean | null;
  isThread?: boolean | null;
  /** Sent at or after this instant. */
  after?: Date | null;
  /** Sent before this instant. */
  before?: Date | null;
}

export interface SearchInput {
  query: string;
  filter?: SearchFilterInput | null;
  sort?: SearchSortKind | null;
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface SearchResultItem {
  message: Message;
  snippet: SnippetPart[];
  score: number | null;
  cursor: string;
}

export interface SearchPage {
  results: SearchResultItem[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  /** Matches the viewer may read, counted up to SEARCH_COUNT_CAP; computed on first call only. */
  total(): Promise<IndexCount>;
}

export interface ReindexProgress {
  done: number;
  total: number;
  elapsedMs: number;
}

/** Where indexing reads messages from and writes documents to (by default the service's own). */
export interface IndexingVia {
  prisma: ServiceDeps['prisma'];
  searchIndex: ServiceDeps['searchIndex'];
}
