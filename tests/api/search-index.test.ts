/**
 * Runs the SearchIndex contract (tests/contract/search-index.contract.ts) against every backend:
 *  - PostgreSQL full-text search, on the project's database (PGlite in the "pglite" project,
 *    PostgreSQL in the "postgres" project);
 *  - Typesense, once (in the "pglite" project), wherever TYPESENSE_URL (and TYPESENSE_API_KEY) point
 *    at a server. Without one the suite is skipped and says why; REQUIRE_TYPESENSE=1 makes a
 *    missing server a failure instead (the Typesense server cannot be installed on our CI machines).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Client as TypesenseClient } from 'typesense';
import { createDatabase } from '../../src/infra/db/database.js';
import { migrate } from '../../src/infra/db/migrator.js';
import { createPostgresSearchIndex } from '../../src/infra/search/postgres.search.js';
import { createTypesenseSearchIndex } from '../../src/infra/search/typesense.search.js';
import { describeSearchIndexContract } from '../contract/search-index.contract.js';
import { createTestDatabase, postgresAvailable, testDbKind } from '../helpers/db.js';
import { createSnowflake } from '../../src/infra/ids/snowflake.js';

const databaseReady = testDbKind === 'pglite' ? true : await postgresAvailable();

describe.skipIf(!databaseReady)(`search index [${testDbKind}]`, () => {
  describeSearchIndexContract(`postgres full-text search on ${testDbKind}`, async () => {
    const testDb = await createTestDatabase();
    const db = await createDatabase(testDb.config);
    await migrate(db);
    const index = createPostgresSearchIndex({ prisma: db.prisma, language: 'english' });
    return {
      index,
      async cleanup() {
        await index.close();
        await db.close();
        await testDb.drop();
      },
    };
  });

  // PostgreSQL-specific: RELEVANCE ranks only the newest `rankWindow` matches, then continues
  // with the older ones newest first; paging must cross that boundary without gaps or repeats.
  it('postgres: pages RELEVANCE across the ranked window into the older matches', async () => {
    const testDb = await createTestDatabase();
    const db = await createDatabase(testDb.config);
    try {
      await migrate(db);
      const index = createPostgresSearchIndex({ prisma: db.prisma, language: 'english', rankWindow: 5 });
      const ids = createSnowflake(778);
      const channelId = ids.next();
      const texts = [
        'heron heron heron',
        'a heron',
        'heron heron',
        'one heron here',
        'the heron',
        'heron',
        'heron again heron',
        'x heron',
        'heron y',
        'heron z',
        'heron heron heron heron',
        'last heron',
      ];
      const docs = texts.map((text) => ({
        messageId: ids.next(),
        channelId,
        workspaceId: 1n,
        authorId: 2n,
        threadRootId: null,
        isThread: false,
        hasFile: false,
        hasLink: false,
        mentionedUserIds: [],
        text,
        createdAt: new Date(),
      }));
      await index.upsert(docs);
      const seen: { id: bigint; score: number | null }[] = [];
      let after: string | null = null;
      for (let i = 0; i < 10; i++) {
        const page = await index.search({
          terms: [{ kind: 'word', text: 'heron', negated: false }],
          channelIds: [channelId],
          sort: 'relevance',
          limit: 4,
          after,
        });
        seen.push(...page.hits.map((h) => ({ id: h.messageId, score: h.score })));
        if (!page.hasMore) break;
        expect(page.hits).toHaveLength(4);
        after = page.hits.at(-1)!.cursor;
      }
      const newestFive = docs.slice(-5).map((d) => d.messageId);
      expect(seen).toHaveLength(12);
      expect(
        seen
          .slice(0, 5)
          .map((s) => s.id)
          .sort(),
      ).toEqual([...newestFive].sort());
      expect(seen[0]!.id).toBe(docs[10]!.messageId); // the best of the window: four herons
      expect(seen.slice(0, 5).every((s) => typeof s.score === 'number')).toBe(true);
      expect(seen.slice(5).map((s) => s.id)).toEqual(
        docs
          .slice(0, 7)
          .map((d) => d.messageId)
          .reverse(),
      );
      expect(seen.slice(5).every((s) => s.score === null)).toBe(true);

      // Backward (last/before) over the same order: from the older matches up into the window.
      const query = {
        terms: [{ kind: 'word' as const, text: 'heron', negated: false }],
        channelIds: [channelId],
        sort: 'relevance' as const,
        after: null,
      };
      const list = seen.map((s) => s.id);
      const back: bigint[] = [];
      let before: string | null = null;
      for (let i = 0; i < 10; i++) {
        const page = await index.search({ ...query, limit: 4, before, backward: true });
        back.unshift(...page.hits.map((h) => h.messageId));
        if (!page.hasMore) break;
        expect(page.hits).toHaveLength(4);
        before = page.hits[0]!.cursor;
      }
      expect(back).toEqual(list);
      // Every cursor, on either side of the window's edge, resumes exactly both ways.
      const whole = (await index.search({ ...query, limit: 50 })).hits;
      expect(whole.map((h) => h.messageId)).toEqual(list);
      for (let i = 0; i < list.length; i++) {
        const prev = await index.search({ ...query, limit: 3, before: whole[i]!.cursor, backward: true });
        expect(
          prev.hits.map((h) => h.messageId),
          `before ${i}`,
        ).toEqual(list.slice(Math.max(0, i - 3), i));
        expect(prev.hasMore).toBe(i > 3);
        const next = await index.search({ ...query, limit: 3, after: whole[i]!.cursor });
        expect(
          next.hits.map((h) => h.messageId),
          `after ${i}`,
        ).toEqual(list.slice(i + 1, i + 4));
      }
      // A window from inside the ranking to among the older matches, read from its end.
      const tail = await index.search({
        ...query,
        limit: 3,
        after: whole[2]!.cursor,
        before: whole[8]!.cursor,
        backward: true,
      });
      expect(tail.hits.map((h) => h.messageId)).toEqual(list.slice(5, 8));
      expect(tail.hasMore).toBe(true);
    } finally {
      await db.close();
      await testDb.drop();
    }
  });
});

const typesenseUrl = process.env.TYPESENSE_URL;
const typesenseKey = process.env.TYPESENSE_API_KEY ?? 'chat-dev-key';
if (testDbKind === 'pglite') {
  if (!typesenseUrl) {
    const reason =
      'Typesense contract suite skipped: TYPESENSE_URL is not set (start one with `docker compose up typesense`, then TYPESENSE_URL=http://localhost:8108 TYPESENSE_API_KEY=chat-dev-key npm test)';
    if (process.env.REQUIRE_TYPESENSE === '1') {
      describe('search index [typesense]', () => {
        it('needs a Typesense server (REQUIRE_TYPESENSE=1)', () => {
          throw new Error(reason);
        });
      });
    } else {
      console.warn(reason);
      describe.skip(`search index [typesense] (${reason})`, () => {
        it('runs the SearchIndex contract against Typesense', () => {});
      });
    }
  } else {
    describeSearchIndexContract(`typesense at ${typesenseUrl}`, () => {
      const alias = `test_messages_${randomBytes(4).toString('hex')}`;
      const index = createTypesenseSearchIndex({
        url: typesenseUrl,
        apiKey: typesenseKey,
        collection: alias,
        language: 'english',
      });
      return Promise.resolve({
        index,
        async cleanup() {
          const admin = new TypesenseClient({
            nodes: [{ url: typesenseUrl }],
            apiKey: typesenseKey,
            logLevel: 'error',
          });
          await admin
            .aliases(alias)
            .delete()
            .catch(() => {});
          for (const c of await admin.collections().retrieve()) {
            if (c.name.startsWith(`${alias}_`))
              await admin
                .collections(c.name)
                .delete()
                .catch(() => {});
          }
          await index.close();
        },
      });
    });
  }
}
