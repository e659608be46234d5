/** Typesense search: hits as multi_search returns them, and their conversion to index hits. */
import { plainExcerpt, splitHighlighted, type IndexHit } from './search-index.port.js';

export interface TsHit {
  document: { id: string; channel?: string; text?: string };
  highlight?: { text?: { snippet?: string } };
  highlights?: { field: string; snippet?: string }[];
  text_match?: number;
}

export function toHit(h: TsHit, cursor: string, score: number | null): IndexHit {
  const snippet = h.highlight?.text?.snippet ?? h.highlights?.find((x) => x.field === 'text')?.snippet;
  return {
    messageId: BigInt(h.document.id),
    channelId: BigInt(h.document.channel ?? '0'),
    snippet: snippet ? splitHighlighted(snippet) : plainExcerpt(h.document.text ?? ''),
    score,
    cursor,
  };
}
