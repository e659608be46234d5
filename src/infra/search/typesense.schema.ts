/** Typesense search: the collection schema (fields, locale) and documents as JSONL. */
import type { SearchDocument } from './search-index.port.js';

/** SEARCH_LANGUAGE (PostgreSQL configuration names) to Typesense locales; '' is Typesense's default (English and most Latin scripts). */
const LOCALES: Record<string, string> = {
  english: 'en',
  simple: '',
  german: 'de',
  french: 'fr',
  spanish: 'es',
  italian: 'it',
  portuguese: 'pt',
  dutch: 'nl',
  danish: 'da',
  swedish: 'sv',
  norwegian: 'nb',
  finnish: 'fi',
  russian: 'ru',
  turkish: 'tr',
  greek: 'el',
  hungarian: 'hu',
  romanian: 'ro',
  indonesian: 'id',
  arabic: 'ar',
  hindi: 'hi',
};

export function typesenseCollectionSchema(name: string, language: string) {
  return {
    name,
    fields: [
      { name: 'message_id', type: 'int64' as const, sort: true },
      { name: 'channel_id', type: 'int64' as const },
      { name: 'workspace_id', type: 'int64' as const },
      { name: 'author_id', type: 'int64' as const },
      { name: 'thread_root_id', type: 'int64' as const, optional: true },
      { name: 'is_thread', type: 'bool' as const },
      { name: 'has_file', type: 'bool' as const },
      { name: 'has_link', type: 'bool' as const },
      { name: 'mentioned_user_ids', type: 'int64[]' as const, optional: true },
      { name: 'text', type: 'string' as const, locale: LOCALES[language] ?? '', stem: true },
      { name: 'created_at', type: 'int64' as const },
      // Stored, not indexed: read back exactly (int64 JSON numbers lose precision in JavaScript).
      { name: 'channel', type: 'string' as const, index: false, optional: true },
    ],
    default_sorting_field: 'message_id',
  };
}

/** One JSONL line per document, with int64 fields written as exact integer literals. */
export function typesenseJsonl(docs: SearchDocument[]): string {
  const big = (v: bigint) => `\u0000${v.toString()}\u0000`;
  return docs
    .map((d) =>
      JSON.stringify({
        id: d.messageId.toString(),
        message_id: big(d.messageId),
        channel_id: big(d.channelId),
        workspace_id: big(d.workspaceId),
        author_id: big(d.authorId),
        ...(d.threadRootId !== null ? { thread_root_id: big(d.threadRootId) } : {}),
        is_thread: d.isThread,
        has_file: d.hasFile,
        has_link: d.hasLink,
        mentioned_user_ids: d.mentionedUserIds.map(big),
        text: d.text,
        created_at: d.createdAt.getTime(),
        channel: d.channelId.toString(),
      }).replace(/"\\u0000([0-9]+)\\u0000"/g, '$1'),
    )
    .join('\n');
}
